"""The invariants every simulated run must satisfy, checked on the real nodes' state."""

from __future__ import annotations

from dataclasses import dataclass

from .world import World

__all__ = ["Violation", "check_liveness", "check_safety"]


@dataclass(frozen=True)
class Violation:
    """One broken invariant in one seed."""

    seed: int
    invariant: str
    detail: str

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"seed": self.seed, "invariant": self.invariant, "detail": self.detail}


def check_safety(world: World) -> list[Violation]:
    """Safety: must hold at every moment, whatever the faults."""
    seed, record = world.seed, world.record
    out: list[Violation] = []
    # 1. No two conflicting transactions final anywhere (across all honest nodes).
    spent_by: dict[object, bytes] = {}
    for i in world.honest:
        for txid in record.final_at[i]:
            tx = record.transactions.get(txid)
            if tx is None:
                continue
            for txin in tx.inputs:
                other = spent_by.setdefault(txin.outpoint, txid)
                if other != txid:
                    out.append(Violation(seed, "conflicting-final", f"{txin.outpoint} final in {other.hex()} and {txid.hex()}"))
    # 2./3. One block per height, and every honest chain a prefix of the longest.
    by_height: dict[int, bytes] = {}
    for i in world.honest:
        for height, block_hash in record.committed[i].items():
            other_hash = by_height.setdefault(height, block_hash)
            if other_hash != block_hash:
                out.append(Violation(seed, "fork", f"two blocks committed at height {height}"))
    hash_lists = [
        [block.hash for block in (world.nodes[i].chain.block_at(h) for h in range(world.nodes[i].chain.height + 1)) if block]
        for i in world.honest
    ]
    longest = max(hash_lists, key=len)
    for hashes in hash_lists:
        if longest[: len(hashes)] != hashes:
            out.append(Violation(seed, "not-a-prefix", "an honest chain is not a prefix of another"))
            break
    # 4. A final transaction stays final: it is in the chain, or no committed block
    #    spends any of its inputs in another transaction.
    for i in world.honest:
        chain = world.nodes[i].chain
        spender: dict[object, bytes] = {}
        for height in range(1, chain.height + 1):
            block = chain.block_at(height)
            assert block is not None
            for tx in block.transactions:
                for txin in tx.inputs:
                    spender[txin.outpoint] = tx.txid
        for txid in record.final_at[i]:
            final_tx = record.transactions.get(txid)
            if final_tx is None or chain.transaction(txid) is not None:
                continue
            for txin in final_tx.inputs:
                thief = spender.get(txin.outpoint)
                if thief is not None and thief != txid:
                    out.append(Violation(seed, "final-reverted", f"node {i}: final {txid.hex()} lost {txin.outpoint} to {thief.hex()}"))
                    break
    # 5. Every committed transaction was final at an honest node or came with a
    #    certificate that verifies.
    for node, height, txid in record.unproven:
        out.append(Violation(seed, "committed-unproven", f"node {node} committed {txid.hex()} at height {height} without finality"))
    # 6. What the adversary sent invalid (front-run or underfunded registrations) is
    #    final and committed nowhere.
    for i in world.honest:
        chain = world.nodes[i].chain
        for txid, why in record.invalid.items():
            if txid in record.final_at[i] or chain.transaction(txid) is not None:
                out.append(Violation(seed, "invalid-accepted", f"node {i} accepted a {why} registration {txid.hex()}"))
    # 7. One operator key, at most one registration final or committed anywhere.
    for operator, txids in record.registrations.items():
        won = {
            txid
            for txid in txids
            for i in world.honest
            if txid in record.final_at[i] or world.nodes[i].chain.transaction(txid) is not None
        }
        if len(won) > 1:
            out.append(Violation(seed, "duplicate-registration", f"operator {operator.hex()} registered by {len(won)} transactions"))
    # 8. Money supply equals the reward schedule, and the UTXO set holds exactly it.
    genesis = sum(o.amount for o in world.network.genesis_outputs)
    for i in world.honest:
        chain = world.nodes[i].chain
        expected = genesis + chain.height * world.network.block_reward
        held = sum(coin.amount for coin in chain.utxos)
        if chain.supply() != expected or held != expected:
            out.append(Violation(seed, "money-supply", f"node {i}: supply {chain.supply()}, held {held}, schedule {expected}"))
    return out


def check_liveness(world: World) -> list[Violation]:
    """Liveness: after the faults end and the network settles, everything progressed."""
    seed, record = world.seed, world.record
    out: list[Violation] = []
    honest = world.honest
    heights = [world.nodes[i].chain.height for i in honest]
    # Blocks keep coming once the network is healthy: at least one per four intervals.
    required = max(record.heights_at_settle, default=0) + int(world.config.settle / (4 * world.config.block_interval))
    if min(heights) < required:
        out.append(Violation(seed, "no-progress", f"honest heights {heights}, {required} required after settling"))
    # No honest node ends behind: whoever was away longer than the engines remember
    # (a long outage, a partition's minority) caught up through block sync. One block
    # of slack for a decision still travelling when the run ends.
    if max(heights) - min(heights) > 1:
        out.append(Violation(seed, "behind", f"honest heights {heights} at the end"))
    # Every valid transaction that is not part of a double spend is final at every honest node.
    for txid in record.submitted:
        if txid in record.conflicting:
            continue
        missing = [
            i
            for i in honest
            if txid not in record.final_at[i] and world.nodes[i].chain.transaction(txid) is None
        ]
        if missing:
            out.append(Violation(seed, "not-final", f"tx {txid.hex()} not final at nodes {missing}"))
            break
    # No honest voter is deactivated or banned in any honest node's registry: slow or
    # briefly crashed voters still take part.
    for i in honest:
        registry = world.nodes[i].registry
        for j in honest:
            operator = world.keys[j].public_key.data
            if not registry.is_live(operator):
                out.append(Violation(seed, "honest-deactivated", f"node {i} deactivated honest voter {j}"))
        # Every final transaction is eventually in a block (of every honest node): those
    # final by the last few block intervals of the run.
    deadline = world.now - 5 * world.config.block_interval
    for i in honest:
        chain = world.nodes[i].chain
        for txid, final_at in record.final_at[i].items():
            if final_at <= deadline and chain.transaction(txid) is None:
                out.append(Violation(seed, "final-not-in-block", f"tx {txid.hex()} final at node {i} but in no block"))
                break
    # A raced swap that is final nowhere is reported as a conflict by every honest node
    # that knows both sides: a merchant is told, not left waiting.
    for swap, rival in record.swaps:
        if any(t in record.final_at[i] for i in honest for t in (swap, rival)):
            continue
        for i in honest:
            node = world.nodes[i]
            if node.finality.state(swap) is None or node.finality.state(rival) is None:
                continue
            if node.contest(swap) is None:
                out.append(Violation(seed, "conflict-unreported", f"node {i} reports no rival for swap {swap.hex()}"))
                break
    # An honest node never penalizes an honest peer: whatever it relays (stale votes,
    # double spends, values it could not yet check) is not an offence.
    for by, peer, offence in record.penalties:
        if by in honest and peer in honest:
            out.append(Violation(seed, "honest-penalized", f"node {by} penalized honest node {peer} for {offence}"))
            break
    return out
