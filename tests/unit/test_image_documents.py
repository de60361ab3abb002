"""Image Builder documents: ImageRecipe, ImagePipeline, DistributionConfiguration and
LifecyclePolicy load into core values; each mistake is one line naming the field; the
examples load and resolve."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from patchwarden.core.lifecycle import LifecycleAction, PolicyDetail
from patchwarden.core.recipe import (
    Bootstrap,
    ComponentRef,
    ContainerConfig,
    DistributionTarget,
    ExternalImage,
    Gate,
    ImageSelector,
    PipelineSchedule,
    StartCondition,
)
from patchwarden.core.semver import SemanticVersion, VersionSelector
from patchwarden.core.vuln import Severity
from patchwarden.documents import KINDS, parse_documents
from patchwarden.documents.image import (
    DistributionDocument,
    ImagePipelineDocument,
    ImageRecipeDocument,
    LifecyclePolicyDocument,
    load_image_documents,
)
from patchwarden.errors import InputError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "images"

RECIPE = """\
apiVersion: patchwarden/v1
kind: ImageRecipe
metadata: {name: web-base}
spec:
  semanticVersion: 1.2.0
  description: the web base
  parentImage:
    bootstrap:
      suite: bookworm
      mirrors: ["deb [trusted=yes] copy:///srv/repo bookworm main"]
      include: [ca-certificates, nginx-light]
      architecture: amd64
  components:
    - componentArn: web-files/1.x.x
      parameters: [{name: greeting, value: [hello]}, {name: plain, value: text}]
    - componentArn: "arn:aws:imagebuilder:us-east-1:123456789012:component/hardening/1.0.0/1"
  labels: {team: platform, org.example.tier: web}
  containerConfig:
    cmd: [nginx, -g, daemon off;]
    entrypoint: [/docker-entrypoint.sh]
    env: {LANG: C.UTF-8, PATH: /usr/bin}
    workingDir: /srv/www
    user: www-data
"""

PIPELINE = """\
apiVersion: patchwarden/v1
kind: ImagePipeline
metadata: {name: web-base, description: nightly web base}
spec:
  imageRecipeArn: "arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/web-base/1.x.x"
  imageTestsConfiguration: {imageTestsEnabled: false, timeoutMinutes: 90}
  imageScanningConfiguration:
    imageScanningEnabled: true
    gate:
      maxFindings: {HIGH: 2, CRITICAL: 0}
      failOnKnownExploited: true
      maxEpss: 0.5
      ignoreUnfixed: true
  distributionConfigurationArn: local-registry
  patchBaseline: debian-security-7days
  schedule:
    scheduleExpression: cron(0 3 * * ? *)
    timezone: Europe/Berlin
    pipelineExecutionStartCondition: EXPRESSION_MATCH_ONLY
    autoDisablePolicy: {failureCount: 3}
  status: DISABLED
"""

DISTRIBUTION = """\
apiVersion: patchwarden/v1
kind: DistributionConfiguration
metadata: {name: local-registry}
spec:
  description: two registries
  distributions:
    - containerDistributionConfiguration:
        targetRepository: {service: OCI, registry: "127.0.0.1:5055", repositoryName: fleet/web}
        containerTags: ["{{imagebuilder:buildVersion}}", "{{ imagebuilder:buildDate }}", latest]
        tlsVerify: false
    - containerDistributionConfiguration:
        targetRepository: {service: OCI, registry: registry.example.com, repositoryName: web}
        credentialsFile: /etc/patchwarden/registry-auth.json
"""

LIFECYCLE = """\
apiVersion: patchwarden/v1
kind: LifecyclePolicy
metadata: {name: retention}
spec:
  policyDetails:
    - action: {type: DELETE}
      filter: {type: COUNT, value: 3}
    - action: {type: DEPRECATE}
      filter: {type: AGE, value: 2, unit: WEEKS, retainAtLeast: 2}
      exclusionRules: {tagMap: {keep: "true"}}
  resourceSelection:
    recipes: [{name: web-base, semanticVersion: 1.x.x}, {name: db-base, semanticVersion: 2.1.0}]
"""


def one(text: str) -> object:
    (document,) = parse_documents(text, "doc.yaml")
    return document


def test_the_four_kinds_are_registered() -> None:
    assert {"ImageRecipe", "ImagePipeline", "DistributionConfiguration", "LifecyclePolicy"} <= set(
        KINDS
    )


def test_an_image_recipe() -> None:
    document = one(RECIPE)
    assert isinstance(document, ImageRecipeDocument)
    assert (document.kind, document.name, document.source) == (
        "ImageRecipe",
        "web-base",
        "doc.yaml",
    )
    recipe = document.recipe
    assert (recipe.name, recipe.version, recipe.description) == (
        "web-base",
        SemanticVersion(1, 2, 0),
        "the web base",
    )
    assert recipe.parent == Bootstrap(
        suite="bookworm",
        mirrors=("deb [trusted=yes] copy:///srv/repo bookworm main",),
        variant="minbase",
        include=("ca-certificates", "nginx-light"),
        architecture="amd64",
    )
    assert recipe.components == (
        ComponentRef(
            "web-files",
            VersionSelector.parse("1.x.x"),
            (("greeting", "hello"), ("plain", "text")),
        ),
        ComponentRef("hardening", VersionSelector.parse("1.0.0/1")),
    )
    assert recipe.labels == (("org.example.tier", "web"), ("team", "platform"))
    assert recipe.config == ContainerConfig(
        cmd=("nginx", "-g", "daemon off;"),
        entrypoint=("/docker-entrypoint.sh",),
        env=(("LANG", "C.UTF-8"), ("PATH", "/usr/bin")),
        working_dir="/srv/www",
        user="www-data",
    )


@pytest.mark.parametrize(
    ("parent", "expected"),
    [
        ("oci:/srv/images/base:1", ExternalImage("oci:/srv/images/base:1")),
        ("oci-archive:/tmp/base.tar", ExternalImage("oci-archive:/tmp/base.tar")),
        ("docker-archive:/tmp/base.tar", ExternalImage("docker-archive:/tmp/base.tar")),
        (
            "docker://127.0.0.1:5055/fleet/base:1",
            ExternalImage("docker://127.0.0.1:5055/fleet/base:1"),
        ),
        ("os-base:2.x.x", ImageSelector("os-base", VersionSelector.parse("2.x.x"))),
        (
            "arn:aws:imagebuilder:us-east-1:123456789012:image/os-base/2.1.0/3",
            ImageSelector("os-base", VersionSelector.parse("2.1.0/3")),
        ),
        ("os-base", ImageSelector("os-base", VersionSelector.parse("x.x.x"))),
    ],
)
def test_parent_images(parent: str, expected: object) -> None:
    old = RECIPE[RECIPE.index("  parentImage:") : RECIPE.index("  components:")]
    document = one(RECIPE.replace(old, f"  parentImage: {parent!r}\n"))
    assert isinstance(document, ImageRecipeDocument)
    assert document.recipe.parent == expected


def test_an_image_pipeline() -> None:
    document = one(PIPELINE)
    assert isinstance(document, ImagePipelineDocument)
    pipeline = document.pipeline
    assert pipeline.name == "web-base"
    assert pipeline.recipe == ("web-base", VersionSelector.parse("1.x.x"))
    assert (pipeline.tests_enabled, pipeline.tests_timeout_minutes) == (False, 90)
    assert pipeline.scanning_enabled
    assert pipeline.gate == Gate(
        max_findings=((Severity.CRITICAL, 0), (Severity.HIGH, 2)),
        fail_on_known_exploited=True,
        max_epss=0.5,
        ignore_unfixed=True,
    )
    assert (pipeline.distribution, pipeline.patch_baseline) == (
        "local-registry",
        "debian-security-7days",
    )
    assert pipeline.schedule == PipelineSchedule(
        "cron(0 3 * * ? *)", "Europe/Berlin", StartCondition.EXPRESSION_MATCH_ONLY, 3
    )
    assert (pipeline.enabled, pipeline.description) == (False, "nightly web base")


def test_pipeline_defaults_follow_aws() -> None:
    minimal = "apiVersion: patchwarden/v1\nkind: ImagePipeline\nmetadata: {name: p}\n"
    document = one(minimal + "spec: {imageRecipeArn: web-base}\n")
    assert isinstance(document, ImagePipelineDocument)
    pipeline = document.pipeline
    assert pipeline.recipe == ("web-base", VersionSelector.parse("x.x.x"))
    assert (pipeline.tests_enabled, pipeline.tests_timeout_minutes) == (True, 720)
    assert (pipeline.scanning_enabled, pipeline.gate, pipeline.schedule) == (True, Gate(), None)
    assert (pipeline.distribution, pipeline.patch_baseline, pipeline.enabled) == ("", "", True)
    scheduled = one(
        minimal
        + "spec:\n  imageRecipeArn: w\n  schedule: {scheduleExpression: 'cron(0 3 * * ? *)'}\n"
    )
    assert isinstance(scheduled, ImagePipelineDocument)
    assert scheduled.pipeline.schedule == PipelineSchedule(
        "cron(0 3 * * ? *)",
        "UTC",
        StartCondition.EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE,
        None,
    )


def test_a_distribution_configuration() -> None:
    document = one(DISTRIBUTION)
    assert isinstance(document, DistributionDocument)
    distribution = document.distribution
    assert (distribution.name, distribution.description) == ("local-registry", "two registries")
    assert distribution.targets == (
        DistributionTarget(
            registry="127.0.0.1:5055",
            repository="fleet/web",
            tags=("{{imagebuilder:buildVersion}}", "{{ imagebuilder:buildDate }}", "latest"),
            tls_verify=False,
        ),
        DistributionTarget(
            registry="registry.example.com",
            repository="web",
            credentials_file="/etc/patchwarden/registry-auth.json",
        ),
    )


def test_a_lifecycle_policy() -> None:
    document = one(LIFECYCLE)
    assert isinstance(document, LifecyclePolicyDocument)
    policy = document.policy
    assert (policy.name, policy.enabled, policy.resource_type) == (
        "retention",
        True,
        "CONTAINER_IMAGE",
    )
    assert policy.details == (
        PolicyDetail(LifecycleAction.DELETE, "COUNT", 3),
        PolicyDetail(
            LifecycleAction.DEPRECATE,
            "AGE",
            2,
            "WEEKS",
            retain_at_least=2,
            exclude_tags=(("keep", "true"),),
        ),
    )
    assert policy.selection.recipes == (
        ("web-base", VersionSelector.parse("1.x.x")),
        ("db-base", VersionSelector.parse("2.1.0")),
    )
    tagged = one(
        LIFECYCLE.replace(
            "    recipes: [{name: web-base, semanticVersion: 1.x.x}, "
            "{name: db-base, semanticVersion: 2.1.0}]",
            "    tagMap: {team: web}\n  status: DISABLED",
        )
    )
    assert isinstance(tagged, LifecyclePolicyDocument)
    assert (tagged.policy.selection.recipes, tagged.policy.selection.tag_map) == (
        (),
        (("team", "web"),),
    )
    assert not tagged.policy.enabled


@pytest.mark.parametrize("text", [RECIPE, PIPELINE, DISTRIBUTION, LIFECYCLE])
def test_documents_round_trip_through_to_json(text: str) -> None:
    document = one(text)
    stored = document.to_json()  # type: ignore[attr-defined]
    assert stored["apiVersion"] == "patchwarden/v1"
    again = one(yaml.safe_dump(stored))
    assert again == document


def _edit(base: str, old: str, new: str) -> str:
    assert old in base, old
    return base.replace(old, new)


BOOT = "    bootstrap:\n      suite: bookworm\n"
TAGS = '["{{imagebuilder:buildVersion}}", "{{ imagebuilder:buildDate }}", latest]'
ECR_LINE = (
    "doc.yaml: spec.distributions[0].containerDistributionConfiguration.targetRepository."
    "service: must be OCI, got 'ECR' (ECR is not reachable from a self-hosted fleet: "
    "push to an OCI registry)"
)
MALFORMED = [
    # ImageRecipe
    (
        _edit(RECIPE, "semanticVersion: 1.2.0", "semanticVersion: '1.2'"),
        "doc.yaml: spec.semanticVersion: must be major.minor.patch (1.0.0), got '1.2'",
    ),
    (
        _edit(RECIPE, "semanticVersion: 1.2.0", "semanticVersion: 1.2"),
        "doc.yaml: spec.semanticVersion: must be a string, got float",
    ),
    (
        _edit(RECIPE, BOOT, BOOT + "      variant: tiny\n"),
        "doc.yaml: spec.parentImage.bootstrap.variant: must be 'extract', 'custom', 'essential', "
        "'apt', 'required', 'minbase', 'buildd', 'important', 'debootstrap' or 'standard', "
        "got 'tiny'",
    ),
    (
        _edit(RECIPE, 'bookworm main"]', 'bookworm main", "deb x\\ndeb y"]'),
        "doc.yaml: spec.parentImage.bootstrap.mirrors[1]: must be one line (no newline)",
    ),
    (
        _edit(RECIPE, "include: [ca-certificates, ", "include: ['ca-certificates,curl', "),
        "doc.yaml: spec.parentImage.bootstrap.include[0]: must be a package name, without "
        "spaces or commas, got 'ca-certificates,curl'",
    ),
    (
        _edit(RECIPE, "    bootstrap:\n", "    debootstrap:\n"),
        "doc.yaml: spec.parentImage.bootstrap: required field is missing (and 1 more problem)",
    ),
    (
        _edit(
            RECIPE,
            RECIPE[RECIPE.index("  parentImage:") : RECIPE.index("  components:")],
            "  parentImage: ami-0123456789abcdef0\n",
        ),
        "doc.yaml: spec.parentImage: 'ami-0123456789abcdef0' is an AMI or SSM parameter; a "
        "container image builds on {bootstrap: …}, oci:…, oci-archive:…, docker-archive:…, "
        "docker://… or another image (NAME:1.x.x)",
    ),
    (
        _edit(
            RECIPE,
            RECIPE[RECIPE.index("  parentImage:") : RECIPE.index("  components:")],
            "  parentImage: [oci:/x]\n",
        ),
        "doc.yaml: spec.parentImage: must be a string (NAME:1.x.x, oci:DIR, "
        "docker://HOST/REPO:TAG…) or a mapping {bootstrap: …}, got list",
    ),
    (
        _edit(RECIPE, "value: [hello]", "value: [hello, world]"),
        "doc.yaml: spec.components[0].parameters[0].value: must be a list of exactly one "
        "string (or a string)",
    ),
    (
        _edit(RECIPE, ":component/hardening/", ":image/hardening/"),
        "doc.yaml: spec.components[1].componentArn: must be an ARN of component/…, got "
        "'arn:aws:imagebuilder:us-east-1:123456789012:image/hardening/1.0.0/1'",
    ),
    (
        _edit(RECIPE, "componentArn: web-files/1.x.x", "componentArn: web-files/x.1.x"),
        "doc.yaml: spec.components[0].componentArn: x may only stand at the end (1.x.x, 1.2.x), "
        "got 'x.1.x'",
    ),
    (
        _edit(RECIPE, "{team: platform,", "{'my team': platform,"),
        "doc.yaml: spec.labels: label key 'my team': must be non-empty, without whitespace",
    ),
    (
        _edit(RECIPE, "workingDir: /srv/www", "workingDir: srv/www"),
        "doc.yaml: spec.containerConfig.workingDir: must be an absolute path, got 'srv/www'",
    ),
    (
        _edit(RECIPE, "  labels:", "  amiTags: {a: b}\n  labels:"),
        "doc.yaml: spec.amiTags: unknown field",
    ),
    # ImagePipeline
    (
        _edit(PIPELINE, "imageScanningEnabled: true", "imageScanningEnabled: false"),
        "doc.yaml: spec.imageScanningConfiguration.gate: gate needs imageScanningEnabled: true",
    ),
    (
        _edit(PIPELINE, "{HIGH: 2, CRITICAL: 0}", "{HIGH: 2, SEVERE: 0}"),
        "doc.yaml: spec.imageScanningConfiguration.gate.maxFindings: unknown severity 'SEVERE' "
        "(one of INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL, UNTRIAGED)",
    ),
    (
        _edit(PIPELINE, "{HIGH: 2, CRITICAL: 0}", "{HIGH: -1}"),
        "doc.yaml: spec.imageScanningConfiguration.gate.maxFindings: HIGH: must be 0 or more, "
        "got -1",
    ),
    (
        _edit(PIPELINE, "maxEpss: 0.5", "maxEpss: 1.5"),
        "doc.yaml: spec.imageScanningConfiguration.gate.maxEpss: Input should be less than or "
        "equal to 1",
    ),
    (
        _edit(PIPELINE, "timeoutMinutes: 90", "timeoutMinutes: 30"),
        "doc.yaml: spec.imageTestsConfiguration.timeoutMinutes: Input should be greater than or "
        "equal to 60",
    ),
    (
        _edit(PIPELINE, "cron(0 3 * * ? *)", "rate(1 day)"),
        "doc.yaml: spec.schedule.scheduleExpression: must be a cron() expression (Image "
        "Builder), got 'rate(1 day)'",
    ),
    (
        _edit(PIPELINE, "cron(0 3 * * ? *)", "cron(0/30 * * * * ? *)"),
        "doc.yaml: spec.schedule.scheduleExpression: cron(0/30 * * * * ? *) fires more than "
        "once a minute (Image Builder's limit)",
    ),
    (
        _edit(PIPELINE, "cron(0 3 * * ? *)", "cron(0 0 30 2 ? *)"),
        "doc.yaml: spec.schedule.scheduleExpression: cron(0 0 30 2 ? *) never fires (no date "
        "matches it)",
    ),
    (
        _edit(PIPELINE, "timezone: Europe/Berlin", "timezone: Mars/Base"),
        "doc.yaml: spec.schedule.timezone: time zone 'Mars/Base': not a known IANA time zone",
    ),
    (
        _edit(PIPELINE, "failureCount: 3", "failureCount: 11"),
        "doc.yaml: spec.schedule.autoDisablePolicy.failureCount: Input should be less than or "
        "equal to 10",
    ),
    (
        _edit(PIPELINE, "status: DISABLED", "status: PAUSED"),
        "doc.yaml: spec.status: must be 'ENABLED' or 'DISABLED', got 'PAUSED'",
    ),
    (
        _edit(PIPELINE, "status: DISABLED", "status: DISABLED\n  name: other"),
        "doc.yaml: spec.name: 'other' differs from metadata.name ('web-base'); give only one",
    ),
    (
        _edit(PIPELINE, ":image-recipe/", ":image/"),
        "doc.yaml: spec.imageRecipeArn: must be an ARN of image-recipe/…, got "
        "'arn:aws:imagebuilder:us-east-1:123456789012:image/web-base/1.x.x'",
    ),
    # DistributionConfiguration
    (_edit(DISTRIBUTION, 'service: OCI, registry: "127', 'service: ECR, registry: "127'), ECR_LINE),
    (
        _edit(DISTRIBUTION, "repositoryName: fleet/web}", "repositoryName: Fleet/Web}"),
        "doc.yaml: spec.distributions[0].containerDistributionConfiguration.targetRepository."
        "repositoryName: must be lower-case path components of a-z 0-9 separated by . _ - "
        "(fleet/web-base), got 'Fleet/Web'",
    ),
    (
        _edit(DISTRIBUTION, 'registry: "127.0.0.1:5055"', 'registry: "http://127.0.0.1:5055"'),
        "doc.yaml: spec.distributions[0].containerDistributionConfiguration.targetRepository."
        "registry: must be host[:port] (127.0.0.1:5055), got 'http://127.0.0.1:5055'",
    ),
    (
        _edit(DISTRIBUTION, TAGS, '[latest, "{{imagebuilder:version}}"]'),
        "doc.yaml: spec.distributions[0].containerDistributionConfiguration.containerTags[1]: "
        "unknown token {{imagebuilder:version}} in '{{imagebuilder:version}}' (known: "
        "{{imagebuilder:buildDate}}, {{imagebuilder:buildVersion}}, "
        "{{imagebuilder:semanticVersion}}, {{imagebuilder:build}})",
    ),
    (
        _edit(DISTRIBUTION, TAGS, '["v/{{imagebuilder:build}}"]'),
        "doc.yaml: spec.distributions[0].containerDistributionConfiguration.containerTags[0]: "
        "'v/{{imagebuilder:build}}' gives 'v/1', not a valid tag (1-128 characters of "
        "A-Z a-z 0-9 _ . -, not starting with . or -)",
    ),
    (
        _edit(DISTRIBUTION, "repositoryName: web}", "repositoryName: fleet/web}").replace(
            "registry.example.com", "127.0.0.1:5055"
        ),
        "doc.yaml: spec.distributions[1].containerDistributionConfiguration.targetRepository: "
        "127.0.0.1:5055/fleet/web is given twice",
    ),
    (
        "apiVersion: patchwarden/v1\nkind: DistributionConfiguration\nmetadata: {name: d}\n"
        "spec: {distributions: []}\n",
        "doc.yaml: spec.distributions: List should have at least 1 item after validation, not 0",
    ),
    # LifecyclePolicy
    (
        _edit(
            LIFECYCLE,
            "{type: AGE, value: 2, unit: WEEKS, retainAtLeast: 2}",
            "{type: AGE, value: 2}",
        ),
        "doc.yaml: spec.policyDetails[1].filter.unit: required when type is AGE",
    ),
    (
        _edit(LIFECYCLE, "{type: COUNT, value: 3}", "{type: COUNT, value: 3, unit: DAYS}"),
        "doc.yaml: spec.policyDetails[0].filter.unit: only for type AGE (COUNT counts images)",
    ),
    (
        _edit(LIFECYCLE, "{type: COUNT, value: 3}", "{type: COUNT, value: 3, retainAtLeast: 1}"),
        "doc.yaml: spec.policyDetails[0].filter.retainAtLeast: only for type AGE",
    ),
    (
        _edit(LIFECYCLE, "retainAtLeast: 2", "retainAtLeast: 11"),
        "doc.yaml: spec.policyDetails[1].filter.retainAtLeast: Input should be less than or "
        "equal to 10",
    ),
    (
        _edit(LIFECYCLE, "{type: COUNT, value: 3}", "{type: COUNT, value: 1001}"),
        "doc.yaml: spec.policyDetails[0].filter.value: Input should be less than or equal to 1000",
    ),
    (
        _edit(LIFECYCLE, "unit: WEEKS", "unit: HOURS"),
        "doc.yaml: spec.policyDetails[1].filter.unit: must be 'DAYS', 'WEEKS', 'MONTHS' or "
        "'YEARS', got 'HOURS'",
    ),
    (
        _edit(LIFECYCLE, "{type: DEPRECATE}", "{type: DELETE}"),
        "doc.yaml: spec.policyDetails[1].action.type: DELETE is given twice (one detail per "
        "action)",
    ),
    (
        _edit(LIFECYCLE, "  policyDetails:", "  resourceType: AMI_IMAGE\n  policyDetails:"),
        "doc.yaml: spec.resourceType: AMI_IMAGE is not supported: Patchwarden builds container "
        "images (use CONTAINER_IMAGE)",
    ),
    (
        _edit(LIFECYCLE, "  resourceSelection:\n", "  resourceSelection:\n    tagMap: {a: b}\n"),
        "doc.yaml: spec.resourceSelection: give exactly one of recipes and tagMap",
    ),
    (
        _edit(LIFECYCLE, "semanticVersion: 2.1.0", "semanticVersion: 2.1.0/4"),
        "doc.yaml: spec.resourceSelection.recipes[1].semanticVersion: must be a recipe version "
        "or wildcard (1.x.x), got '2.1.0/4'",
    ),
    (
        _edit(LIFECYCLE, "{type: DELETE}", "{type: ARCHIVE}"),
        "doc.yaml: spec.policyDetails[0].action.type: must be 'DEPRECATE', 'DISABLE' or "
        "'DELETE', got 'ARCHIVE'",
    ),
    (
        _edit(LIFECYCLE, "{name: retention}", "{name: -retention}"),
        "doc.yaml: metadata.name: must be 1-128 characters of a-z A-Z 0-9 _ - . "
        "(a letter or digit first)",
    ),
]


@pytest.mark.parametrize(("text", "line"), MALFORMED)
def test_malformed_documents_give_one_line_naming_the_field(text: str, line: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_documents(text, "doc.yaml")
    assert str(exc.value) == line
    assert "\n" not in str(exc.value)


# -- the examples and a set of documents ------------------------------------------------------


def test_the_examples_load_and_resolve() -> None:
    documents = load_image_documents(EXAMPLES)
    recipe = documents.recipe("web-base", VersionSelector.parse("1.x.x")).recipe
    assert recipe.parent == Bootstrap(
        suite="bookworm",
        mirrors=("deb [trusted=yes] copy:///var/lib/patchwarden-example/repo bookworm main",),
        variant="minbase",
    )
    assert recipe.labels == (("org.example.team", "platform"),)
    (ref,) = recipe.components
    component = documents.component(ref.name, ref.version)
    assert (component.spec.name, component.spec.semanticVersion) == ("web-files", "1.0.0")
    assert [phase.name for phase in component.component.phases] == ["build", "validate", "test"]
    pipeline = documents.pipeline("web-base").pipeline
    assert pipeline.gate.max_findings == ((Severity.CRITICAL, 0), (Severity.HIGH, 0))
    target = documents.distribution(pipeline.distribution).distribution.targets[0]
    assert (target.registry, target.repository, target.tags, target.tls_verify) == (
        "127.0.0.1:5055",
        "fleet/web-base",
        ("{{imagebuilder:buildVersion}}", "latest"),
        False,
    )
    policy = documents.lifecycle_policy("web-base-retention").policy
    assert policy.details == (
        PolicyDetail(LifecycleAction.DELETE, "COUNT", 3),
        PolicyDetail(LifecycleAction.DEPRECATE, "AGE", 30, "DAYS", retain_at_least=2),
    )
    assert policy.selection.recipes == (("web-base", VersionSelector.parse("1.x.x")),)
    assert documents.baselines == ()


def _write(path: Path, *documents: str) -> Path:
    path.write_text("---\n".join(documents), encoding="utf-8")
    return path


def _recipe_version(version: str, name: str = "web-base") -> str:
    return (
        RECIPE.replace("semanticVersion: 1.2.0", f"semanticVersion: {version}")
        .replace("metadata: {name: web-base}", f"metadata: {{name: {name}-{version}}}")
        .replace("spec:\n", f"spec:\n  name: {name}\n", 1)
    )


def test_recipe_lookup_takes_the_newest_match(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "r.yaml",
        _recipe_version("2.2.4"),
        _recipe_version("1.7.8"),
        _recipe_version("1.6.8"),
        _recipe_version("1.0.0", "db-base"),
    )
    documents = load_image_documents(path)
    found = documents.recipe("web-base", VersionSelector.parse("1.x.x"))
    assert (found.name, str(found.recipe.version)) == ("web-base-1.7.8", "1.7.8")
    assert str(documents.recipe("web-base", VersionSelector.parse("x.x.x")).recipe.version) == (
        "2.2.4"
    )
    with pytest.raises(InputError) as exc:
        documents.recipe("web-base", VersionSelector.parse("3.x.x"))
    assert str(exc.value) == (
        "no version of ImageRecipe 'web-base' matches 3.x.x (versions: 1.6.8, 1.7.8, 2.2.4)"
    )
    with pytest.raises(InputError) as exc:
        documents.recipe("app", VersionSelector.parse("1.x.x"))
    assert str(exc.value) == (
        "no ImageRecipe named 'app' (there are: db-base 1.0.0, web-base 1.6.8, web-base 1.7.8, "
        "web-base 2.2.4)"
    )


def test_name_lookups_list_what_exists(tmp_path: Path) -> None:
    documents = load_image_documents(_write(tmp_path / "d.yaml", PIPELINE, DISTRIBUTION))
    assert documents.pipeline("web-base").name == "web-base"
    for lookup, kind, there in [
        (documents.pipeline, "ImagePipeline", "web-base"),
        (documents.distribution, "DistributionConfiguration", "local-registry"),
        (documents.lifecycle_policy, "LifecyclePolicy", "none"),
        (documents.baseline, "PatchBaseline", "none"),
    ]:
        with pytest.raises(InputError) as exc:
            lookup("nope")
        assert str(exc.value) == f"no {kind} named 'nope' (there are: {there})"
    with pytest.raises(InputError) as exc:
        documents.component("web-files", VersionSelector.parse("1.x.x"))
    assert str(exc.value) == "no Component named 'web-files' (there are: none)"


def test_a_recipe_version_given_twice_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.yaml", _recipe_version("1.0.0"), _recipe_version("1.0.0", "x"))
    path2 = _write(
        tmp_path / "s.yaml",
        _recipe_version("1.0.0").replace("{name: web-base-1.0.0}", "{name: copy}"),
    )
    load_image_documents(path)  # two names
    with pytest.raises(InputError) as exc:
        load_image_documents(tmp_path)
    assert str(exc.value) == (
        f"{path2}: ImageRecipe 'web-base' 1.0.0 is already defined in {path}#1"
    )
