"""Deployer plugins: where image deployments (blue/green, canary) start instances of a
golden OCI image, how their traffic is weighted and how their health is checked.

- :mod:`.runc` — :class:`~.runc.RuncDeployer`: each instance a runc container unpacked
  from the image's OCI layout with ``umoci``, on the host's network at ``base port + slot``;
- :mod:`.nginx` — :class:`~.nginx.NginxRouter`: a private nginx whose weighted upstream is
  rewritten, checked and reloaded on every ``route`` (returns once the new weights apply);
- :mod:`.command` — :class:`~.command.CommandDeployer` and :class:`~.command.CommandRouter`:
  operator hooks (Kubernetes, Nomad, cloud autoscaling groups) with a documented contract
  (environment, stdin, stdout); examples in ``examples/deployments/hooks``;
- :mod:`.health` — :class:`~.health.HttpProbe` (one GET) and :class:`~.health.CommandProbe`
  (one command);
- :mod:`.plugins` — the deployer, router and probe a deployment document names;
- :mod:`.catalog` — the local store of deployment runs.

They implement :class:`~patchwarden.ports.Deployer`, :class:`~patchwarden.ports.TrafficRouter`
and :class:`~patchwarden.ports.HealthProbe`.
"""
