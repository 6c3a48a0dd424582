"""``GET /healthz``: liveness without authentication; says nothing about stored material."""

from __future__ import annotations

from fastapi import APIRouter, Depends

import enclave
from enclave.server.errors import error_responses
from enclave.server.schemas import Health
from enclave.server.state import Services, services

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, responses=error_responses(503))
def healthz(svc: Services = Depends(services)) -> Health:
    return Health(
        status="ok",
        version=enclave.__version__,
        model=svc.engine.model_id,
        queue={"in_flight": svc.gate.in_flight, "capacity": svc.gate.capacity, "refused": svc.gate.refused},
    )
