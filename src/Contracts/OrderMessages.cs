namespace Pipeline.Contracts;

/// <summary>One line of an order: a stock-keeping unit and how many of it.</summary>
public sealed record OrderLine
{
    /// <summary>The stock-keeping unit: 1 to 100 characters, no control character.</summary>
    public required string Sku { get; init; }

    /// <summary>How many units: positive; the quantities of one SKU summed over the order must fit in an <see cref="int"/>.</summary>
    public required int Quantity { get; init; }
}

/// <summary>
/// Published by a storefront: a customer submitted an order. Consumed by every replica (queue order-intake), which records it
/// once per <see cref="OrderId"/> and answers with exactly one decision, <see cref="OrderConfirmed"/> or <see cref="OrderRejected"/>.
/// </summary>
public sealed record OrderSubmitted
{
    /// <summary>The storefront's id of the order, unique across storefronts: 1 to 200 characters, no control character.
    /// Publishing the same order again is harmless; reusing the id for other content is refused with <see cref="OrderIdConflict"/>.</summary>
    public required string OrderId { get; init; }

    /// <summary>Who ordered: at most 200 characters, no control character.</summary>
    public required string CustomerId { get; init; }

    /// <summary>1 to 1,000 lines; every line is reserved or none.</summary>
    public required IReadOnlyList<OrderLine> Lines { get; init; }

    /// <summary>When the customer submitted the order, as the storefront saw it.</summary>
    public required DateTimeOffset SubmittedAt { get; init; }
}

/// <summary>Sent by the intake to queue inventory-commit: reserve every line of the order or none. Internal to the pipeline: a
/// storefront never sends it.</summary>
public sealed record CommitInventory
{
    /// <summary>The recorded order's id.</summary>
    public required string OrderId { get; init; }

    /// <summary>The recorded order's lines.</summary>
    public required IReadOnlyList<OrderLine> Lines { get; init; }
}

/// <summary>
/// Sent by the intake to queue inventory-commit: the valid orders of one intake batch, each to be reserved whole or not at
/// all, each decided on its own (one <see cref="OrderConfirmed"/> or <see cref="OrderRejected"/> per order). Internal to the
/// pipeline: a storefront never sends it. The leader commits the orders of several such commands per transaction; an order
/// whose commit fails for what it holds is split off and retried alone as a <see cref="CommitInventory"/>, so it never holds
/// up, or parks, the rest of its batch.
/// </summary>
public sealed record CommitInventoryBatch
{
    /// <summary>The version of this contract this command was written in: <see cref="CurrentVersion"/> by this release. A leader
    /// refuses (parks in inventory-commit_error) a version it does not know rather than guess at its meaning.</summary>
    public int Version { get; init; } = CurrentVersion;

    /// <summary>The version this release writes and reads.</summary>
    public const int CurrentVersion = 1;

    /// <summary>1 to 1,000 recorded orders, each with its id and lines as recorded; no id twice.</summary>
    public required IReadOnlyList<CommitInventory> Orders { get; init; }
}

/// <summary>Published after COMMIT: the order's stock is reserved, under the fencing token of the leader that committed it. A
/// decision: final, and the only one the order gets (it may be delivered more than once, always identical).</summary>
public sealed record OrderConfirmed
{
    /// <summary>The order's id, as submitted.</summary>
    public required string OrderId { get; init; }

    /// <summary>The token the committing leader held.</summary>
    public required FencingTokenInfo Token { get; init; }

    /// <summary>The node id of the replica that committed the order.</summary>
    public required string CommittedBy { get; init; }

    /// <summary>When the commit transaction ran.</summary>
    public required DateTimeOffset CommittedAt { get; init; }
}

/// <summary>Published when an order is refused, at intake (invalid) or at commit (out of stock, unknown SKU): the decision of
/// the order recorded under <see cref="OrderId"/>, final like <see cref="OrderConfirmed"/>.</summary>
public sealed record OrderRejected
{
    /// <summary>The order's id, as submitted.</summary>
    public required string OrderId { get; init; }

    /// <summary>Why the order was refused.</summary>
    public required RejectionReason Reason { get; init; }

    /// <summary>A human-readable explanation (which field, which SKU), when there is one.</summary>
    public string? Detail { get; init; }
}

/// <summary>
/// Published when an <see cref="OrderSubmitted"/> reused an order id already recorded with other content: that submission was
/// refused and nothing of it was recorded. It is not a decision: the order recorded under the id keeps its own
/// <see cref="OrderConfirmed"/> or <see cref="OrderRejected"/>, so a consumer keyed by order id must not read this as one.
/// </summary>
public sealed record OrderIdConflict
{
    /// <summary>The reused order id.</summary>
    public required string OrderId { get; init; }

    /// <summary>The customer the refused submission named (bounded to the intake's field limits).</summary>
    public required string CustomerId { get; init; }

    /// <summary>When the refused submission says it was submitted.</summary>
    public required DateTimeOffset SubmittedAt { get; init; }

    /// <summary>A human-readable explanation.</summary>
    public required string Detail { get; init; }
}

/// <summary>The leader's fencing token as carried in events: (generation, sequence), compared lexicographically.</summary>
public sealed record FencingTokenInfo
{
    /// <summary>The election's generation (the ZooKeeper election path's creation transaction id).</summary>
    public required long Generation { get; init; }

    /// <summary>The leader's sequence within the generation.</summary>
    public required long Sequence { get; init; }

    /// <summary>"generation:sequence".</summary>
    public override string ToString() => $"{Generation}:{Sequence}";
}

/// <summary>Why an order was rejected.</summary>
public enum RejectionReason
{
    /// <summary>The order broke a field limit (id, customer, lines, SKU, quantity, a control character); refused at intake.</summary>
    Invalid = 1,

    // 2 is reserved: a reused order id is announced with OrderIdConflict, never as a rejection of the recorded order.

    /// <summary>A line asked for more units than were in stock; nothing of the order was reserved.</summary>
    OutOfStock = 3,

    /// <summary>A line named a SKU that has no stock row; nothing of the order was reserved.</summary>
    UnknownSku = 4,
}
