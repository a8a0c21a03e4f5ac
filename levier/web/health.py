from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse

import levier


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness in one: database reachable and every migration applied."""
    body: dict[str, object] = {"version": levier.__version__}
    try:
        connection = connections[DEFAULT_DB_ALIAS]
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        body["database"] = "ok"
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        body["migrations"] = "ok" if not pending else f"{len(pending)} pending"
    except Exception as exc:  # any database failure is a "not ready", not a crash
        body.setdefault("database", f"error: {exc.__class__.__name__}")
        body["migrations"] = "unknown"
    healthy = body.get("database") == "ok" and body.get("migrations") == "ok"
    body["status"] = "ok" if healthy else "error"
    return JsonResponse(body, status=200 if healthy else 503)
