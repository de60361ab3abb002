"""Deployments of golden images (CodeDeploy's vocabulary), pure: the document's values
(:mod:`.model`), the traffic waves of each strategy and the weights a router gets
(:mod:`.strategy`), health-check tallies and alarms (:mod:`.health`).  The orchestration —
start, check, shift, bake, stop, roll back — is :mod:`patchwarden.pipeline.deploy`."""
