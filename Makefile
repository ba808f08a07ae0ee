# `make test` is the whole test run, as in CI (.ci/run): see scripts/test.
.PHONY: test bootstrap lint

test:
	scripts/test

bootstrap:
	scripts/bootstrap

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/mypy ipvsctl
