"""``RuntimeSettings``: the node runtime's timeouts, slots and queue sizes (the ``[runtime]`` table of node.toml).

Defaults are NETWORK.md's starting points; every field is validated when the model is
built (pydantic), so a bad value fails at start-up with the field's name, never later.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from timecoin_core.errors import TimecoinError
from timecoin_core.wire import PolicyConfig, SessionConfig

__all__ = ["RuntimeSettings", "SettingsError"]


class SettingsError(TimecoinError, ValueError):
    """Settings that contradict each other (pydantic reports it inside its ``ValidationError``)."""


class RuntimeSettings(BaseModel):
    """Tunables of :class:`~timecoin_net.Node` (frozen; unknown fields are refused)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # -- sessions (NETWORK.md "Connections") -------------------------------------------
    handshake_timeout: float = Field(default=10.0, gt=0, description="Seconds a handshake may take.")
    ping_interval: float = Field(default=30.0, gt=0, description="Seconds between pings.")
    pong_timeout: float = Field(default=20.0, gt=0, description="Seconds a pong may take.")
    idle_timeout: float = Field(default=90.0, gt=0, description="Seconds of silence before a peer is dropped.")
    send_queue_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024, description="Per-peer send queue cap.")
    user_agent: str = Field(default="timecoin/0.1.0", max_length=256)

    # -- slots and policy ------------------------------------------------------------------
    max_inbound: int = Field(default=64, ge=1)
    max_outbound: int = Field(default=8, ge=1)
    max_per_netgroup: int = Field(default=8, ge=1, description="Inbound peers per /16 (IPv6: /32).")
    attempts_per_second: float = Field(default=10.0, gt=0, description="Inbound connection attempts refill rate.")
    attempt_burst: float = Field(default=20.0, ge=1)
    discourage_ttl: float = Field(default=24 * 3600.0, gt=0)
    discourage_loopback: bool = Field(
        default=False,
        description=(
            "Discourage offending peers on loopback addresses too. Off by default, as in "
            "Bitcoin Core: every local peer shares the address, so discouraging one would "
            "refuse them all; they are still disconnected."
        ),
    )
    backoff_base: float = Field(default=1.0, gt=0)
    backoff_cap: float = Field(default=600.0, gt=0)
    connect_timeout: float = Field(default=5.0, gt=0, description="Seconds a dial may take.")

    # -- queues ------------------------------------------------------------------------
    peer_queue_size: int = Field(default=64, ge=1, description="Decoded messages buffered per peer.")
    node_queue_size: int = Field(default=1024, ge=1, description="Events buffered for the node task.")
    stall_timeout: float = Field(
        default=30.0, gt=0, description="Seconds a peer's full queue may wait for the node before the peer is dropped."
    )

    # -- gossip ------------------------------------------------------------------------
    inv_interval: float = Field(default=0.1, gt=0, description="Seconds between a peer's transaction announcements.")
    relay_ttl: float = Field(default=4.0, gt=0, description="Seconds a relayed hash is remembered (two regossip periods).")
    inventory_timeout: float = Field(default=10.0, gt=0, description="Seconds a GetData may go unanswered.")
    tx_cache_size: int = Field(default=50_000, ge=0, description="Relayed transaction bodies kept to answer GetData.")
    address_book_size: int = Field(default=1000, ge=0)
    status_interval: float = Field(default=10.0, gt=0, description="Seconds between Status pushes to every peer.")
    catch_up_commits: int = Field(
        default=8, ge=0, le=10,
        description="Recent commits pushed to a peer whose Status is behind (within the Commit burst of 10).",
    )

    offload_bytes: int = Field(
        default=64 * 1024, ge=0,
        description="Consensus messages at least this large are decoded and handled in a worker thread.",
    )

    # -- shutdown ------------------------------------------------------------------------
    shutdown_timeout: float = Field(default=5.0, gt=0, description="Seconds the node has to drain its actions.")
    flush_timeout: float = Field(default=2.0, gt=0, description="Seconds send queues have to flush, Goodbye included.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.backoff_cap < self.backoff_base:
            raise SettingsError("backoff_cap must be at least backoff_base")
        return self

    def session_config(self, *, listen_port: int = 0, best_height: int = 0, best_tip: bytes = bytes(32)) -> SessionConfig:
        """The wire :class:`~timecoin_core.wire.SessionConfig` these settings describe."""
        return SessionConfig(
            handshake_timeout=self.handshake_timeout,
            ping_interval=self.ping_interval,
            pong_timeout=self.pong_timeout,
            idle_timeout=self.idle_timeout,
            send_queue_bytes=self.send_queue_bytes,
            user_agent=self.user_agent,
            listen_port=listen_port,
            best_height=best_height,
            best_tip=best_tip,
        )

    def policy_config(self) -> PolicyConfig:
        """The wire :class:`~timecoin_core.wire.PolicyConfig` these settings describe."""
        return PolicyConfig(
            max_inbound=self.max_inbound,
            max_outbound=self.max_outbound,
            max_per_netgroup=self.max_per_netgroup,
            attempts_per_second=self.attempts_per_second,
            attempt_burst=self.attempt_burst,
            discourage_ttl=self.discourage_ttl,
            handshake_timeout=self.handshake_timeout,
            idle_timeout=self.idle_timeout,
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_cap,
        )
