"""The ``/api/v1`` routers, one module per noun (the explicit list is :data:`ROUTERS`)."""

from __future__ import annotations

from fastapi import APIRouter

from patchwarden.server.routes.activations import router as activations_router
from patchwarden.server.routes.agent import router as agent_router
from patchwarden.server.routes.agent_inventory import router as agent_inventory_router
from patchwarden.server.routes.audit import router as audit_router
from patchwarden.server.routes.baselines import router as baselines_router
from patchwarden.server.routes.commands import router as commands_router
from patchwarden.server.routes.compliance import router as compliance_router
from patchwarden.server.routes.deployments import router as deployments_router
from patchwarden.server.routes.documents import router as documents_router
from patchwarden.server.routes.findings import router as findings_router
from patchwarden.server.routes.images import agent_router as image_agent_router
from patchwarden.server.routes.images import router as images_router
from patchwarden.server.routes.inventory import router as inventory_router
from patchwarden.server.routes.node_facts import router as node_facts_router
from patchwarden.server.routes.nodes import router as nodes_router
from patchwarden.server.routes.patch_groups import router as patch_groups_router
from patchwarden.server.routes.register import router as register_router
from patchwarden.server.routes.resources import router as resources_router
from patchwarden.server.routes.suppressions import router as suppressions_router
from patchwarden.server.routes.tokens import router as tokens_router

ROUTERS: tuple[APIRouter, ...] = (
    tokens_router,
    audit_router,
    activations_router,
    register_router,
    agent_router,
    agent_inventory_router,
    node_facts_router,
    nodes_router,
    baselines_router,
    patch_groups_router,
    commands_router,
    compliance_router,
    inventory_router,
    documents_router,
    findings_router,
    images_router,
    image_agent_router,
    deployments_router,
    suppressions_router,
    resources_router,
)
