#!/bin/sh
# EXAMPLE ONLY - NOT TESTED by Patchwarden's test suite (no Kubernetes cluster there).
#
# A Patchwarden start hook for Kubernetes: one Deployment per instance, named
# "$K8S_PREFIX-$PATCHWARDEN_INSTANCE" (e.g. web-web-green-1), which already exists with a
# container named "app" and a Service of the same name in front of it.  The hook points the
# container at the pushed image, waits for the rollout and prints the Service's address.
#
#   --start 'examples/deployments/hooks/kubectl-set-image.sh'
#   environment: K8S_NAMESPACE (default: default), K8S_PREFIX (default: web),
#                K8S_PORT (the Service port, default 80)
#
# The image must have been pushed (PATCHWARDEN_IMAGE_REFERENCES lists registry/repo:tag
# references, space-separated); the first one is used, pinned to the built digest so the
# cluster runs exactly the scanned image.  Check the names against your cluster first.
set -eu

ns="${K8S_NAMESPACE:-default}"
name="${K8S_PREFIX:-web}-${PATCHWARDEN_INSTANCE}"
port="${K8S_PORT:-80}"

ref="${PATCHWARDEN_IMAGE_REFERENCES%% *}"
if [ -z "$ref" ]; then
    echo "kubectl-set-image: image $PATCHWARDEN_IMAGE $PATCHWARDEN_IMAGE_VERSION was not pushed" >&2
    exit 1
fi
repo="${ref%:*}"                       # registry/repository without the tag
image="$repo@$PATCHWARDEN_IMAGE_DIGEST"

kubectl --namespace "$ns" set image "deployment/$name" "app=$image" >&2
kubectl --namespace "$ns" annotate --overwrite "deployment/$name" \
    "patchwarden.io/image-version=$PATCHWARDEN_IMAGE_VERSION" >&2
kubectl --namespace "$ns" rollout status "deployment/$name" --timeout=240s >&2

# The contract's last line: where Patchwarden probes the instance and routes traffic.
echo "$name.$ns.svc.cluster.local:$port"

# A matching stop hook scales the Deployment down:
#   kubectl --namespace "$ns" scale "deployment/${K8S_PREFIX:-web}-$PATCHWARDEN_INSTANCE" --replicas=0
