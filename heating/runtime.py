"""What the CLI and the web app share: resolved config, engine and sessions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from heating import shared_figures
from heating.config import Config, load_config
from heating.db import PoolSettings, make_engine, session_factory, session_scope
from heating.sealing import Keyring, activate


@dataclass
class Runtime:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on error."""
        with session_scope(self.sessions) as session:
            yield session


def open_runtime(config: Config | None = None, **overrides: Any) -> Runtime:
    """Resolve settings (with overrides such as ``database_url``) and open the engine."""
    cfg = config if config is not None else load_config(overrides)
    if config is not None and overrides:
        cfg = cfg.with_overrides(**{k: v for k, v in overrides.items() if v is not None})
    engine = make_engine(cfg.database_url, PoolSettings.from_config(cfg))
    if cfg.share_kept_figures != "auto":
        shared_figures.share_between_processes(engine, cfg.share_kept_figures == "on")
    open_keyring(cfg)
    # The counting settings ride on every session (heating.db.session_factory):
    # whoever reads the measures counts by the configured rule and [usage].
    sessions = session_factory(engine, heat_source_rule=cfg.heat_source_rule, usage=cfg.usage)
    return Runtime(cfg, engine, sessions)


def open_keyring(config: Config) -> Keyring | None:
    """Load and activate the key file when it exists (``heating init`` creates it)."""
    path = Path(config.encryption_key_file)
    ring = Keyring.load(path) if path.exists() else None
    activate(ring)
    return ring
