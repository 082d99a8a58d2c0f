"""Operations endpoints (root paths): liveness and readiness."""
