"""The AWS-compatible endpoint ``POST /aws/ssm``: the AWS Systems Manager JSON 1.1
protocol, signed with SigV4 by access keys bound to operator tokens, so that the AWS CLI,
boto3 and SDK-based tools drive Patchwarden with only ``--endpoint-url`` and credentials
changed (docs/aws-api.md).

- :mod:`.protocol` — errors, the operation registry, the context, parameters, paging;
- :mod:`.endpoint` — the route: verify, authorise, dispatch, render;
- :mod:`.baselines` — the patch baseline and patch group operations;
- :mod:`.nodes` — managed nodes, their tags, activations, deregistration;
- :mod:`.patch_state` — patch states, Patch compliance, available patches;
- :mod:`.commands` — Run Command: send, list, invocations, cancel;
- :mod:`.windows` — maintenance windows, their targets, tasks, executions and schedule.
"""

from patchwarden.server.aws_api import baselines as baselines  # registers its operations
from patchwarden.server.aws_api import commands as commands  # registers its operations
from patchwarden.server.aws_api import nodes as nodes  # registers its operations
from patchwarden.server.aws_api import patch_state as patch_state  # registers its operations
from patchwarden.server.aws_api import windows as windows  # registers its operations
