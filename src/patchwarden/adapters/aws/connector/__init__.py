"""The AWS connector (``patchwarden aws …``, extra ``patchwarden[aws]``): import an
account's EC2, RDS, Lambda, ECS and EKS resources as a snapshot for the fleet server's
resource rules, and export Patchwarden's baselines and maintenance windows to SSM
(docs/aws-connector.md).  boto3 is imported inside functions only."""
