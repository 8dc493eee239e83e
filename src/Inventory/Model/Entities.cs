namespace Pipeline.Inventory.Model;

/// <summary>A SKU's stock. The CHECK (on_hand >= 0) makes an oversell impossible even for a bug. Initial is every unit ever
/// added, so initial = on_hand + confirmed quantity holds for every SKU.</summary>
public sealed class StockItem
{
    public required string Sku { get; set; }

    public int OnHand { get; set; }

    public int Initial { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>Every accepted order message, one row: recorded at intake (Received), decided by the commit (Confirmed, Rejected).</summary>
public sealed class OrderRecord
{
    public required string OrderId { get; set; }

    public required string CustomerId { get; set; }

    public required string Lines { get; set; }

    /// <summary>SHA-256 of the canonical content, to tell a redelivery (same) from a conflicting reuse of the id (different).</summary>
    public required string ContentHash { get; set; }

    public required string Status { get; set; }

    public string? Reason { get; set; }

    public string? Detail { get; set; }

    public DateTimeOffset ReceivedAt { get; set; }

    public required string ReceivedBy { get; set; }

    public DateTimeOffset? DecidedAt { get; set; }
}

/// <summary>The ledger: exactly one row per decided order, with the token of the leader that decided it.</summary>
public sealed class InventoryCommit
{
    public long CommitSeq { get; set; }

    public required string OrderId { get; set; }

    public long Generation { get; set; }

    public long Sequence { get; set; }

    public required string NodeId { get; set; }

    public required string Outcome { get; set; }

    public string? Reason { get; set; }

    public string? Detail { get; set; }

    public DateTimeOffset CommittedAt { get; set; }
}

/// <summary>The fence: the highest token that has led. A commit from a lower token cannot pass it.</summary>
public sealed class LeaderFence
{
    public required string Resource { get; set; }

    public long Generation { get; set; }

    public long Sequence { get; set; }

    public required string Holder { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>Audit of refused stale commits, written in a transaction of its own.</summary>
public sealed class FenceRejection
{
    public long Id { get; set; }

    public DateTimeOffset At { get; set; }

    public required string Resource { get; set; }

    public required string NodeId { get; set; }

    public long Generation { get; set; }

    public long Sequence { get; set; }

    public long CurrentGeneration { get; set; }

    public long CurrentSequence { get; set; }
}

/// <summary>A leadership taken, written by the new leader once the fence holds its token: who, with which token, after whom
/// and why (first, graceful, crash-signal, session-expired, resumed). The dashboard's election history across replicas.</summary>
public sealed class LeaderSuccession
{
    public long Id { get; set; }

    public DateTimeOffset At { get; set; }

    public required string Resource { get; set; }

    public required string NodeId { get; set; }

    public long Generation { get; set; }

    public long Sequence { get; set; }

    public required string Cause { get; set; }

    public string? Previous { get; set; }
}

/// <summary>Audit of an operator's fence reset (the <c>fence-reset</c> verb): who moved the fence, from which token to which
/// and why. Written in the same transaction as the move.</summary>
public sealed class FenceReset
{
    public long Id { get; set; }

    public DateTimeOffset At { get; set; }

    public required string Resource { get; set; }

    public required string Operator { get; set; }

    public long FromGeneration { get; set; }

    public long FromSequence { get; set; }

    public long ToGeneration { get; set; }

    public long ToSequence { get; set; }

    public required string Reason { get; set; }
}

/// <summary>Order statuses and outcomes as stored.</summary>
public static class OrderStatus
{
    public const string Received = "Received";
    public const string Confirmed = "Confirmed";
    public const string Rejected = "Rejected";
}
