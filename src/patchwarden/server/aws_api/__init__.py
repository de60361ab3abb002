"""The AWS-compatible endpoint ``POST /aws/ssm``: the AWS Systems Manager JSON 1.1
protocol, signed with SigV4 by access keys bound to operator tokens, so that the AWS CLI,
boto3 and SDK-based tools drive Patchwarden with only ``--endpoint-url`` and credentials
changed (docs/aws-api.md).

- :mod:`.protocol` — errors, the operation registry, the context, parameters, paging;
- :mod:`.endpoint` — the route: verify, authorise, dispatch, render;
- :mod:`.baselines` — the patch baseline and patch group operations.
"""
