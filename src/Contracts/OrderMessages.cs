namespace Pipeline.Contracts;

/// <summary>One line of an order: a stock-keeping unit and how many of it.</summary>
public sealed record OrderLine
{
    public required string Sku { get; init; }
    public required int Quantity { get; init; }
}

/// <summary>Published by a storefront: a customer submitted an order. Consumed by every replica (queue order-intake).</summary>
public sealed record OrderSubmitted
{
    public required string OrderId { get; init; }
    public required string CustomerId { get; init; }
    public required IReadOnlyList<OrderLine> Lines { get; init; }
    public required DateTimeOffset SubmittedAt { get; init; }
}

/// <summary>Sent by the intake to queue inventory-commit: reserve every line of the order or none.</summary>
public sealed record CommitInventory
{
    public required string OrderId { get; init; }
    public required IReadOnlyList<OrderLine> Lines { get; init; }
}

/// <summary>Published after COMMIT: the order's stock is reserved, under the fencing token of the leader that committed it.</summary>
public sealed record OrderConfirmed
{
    public required string OrderId { get; init; }
    public required FencingTokenInfo Token { get; init; }
    public required string CommittedBy { get; init; }
    public required DateTimeOffset CommittedAt { get; init; }
}

/// <summary>Published when an order is refused, at intake (invalid) or at commit (out of stock, unknown SKU): the decision of
/// the order recorded under <see cref="OrderId"/>, final like <see cref="OrderConfirmed"/>.</summary>
public sealed record OrderRejected
{
    public required string OrderId { get; init; }
    public required RejectionReason Reason { get; init; }
    public string? Detail { get; init; }
}

/// <summary>
/// Published when an <see cref="OrderSubmitted"/> reused an order id already recorded with other content: that submission was
/// refused and nothing of it was recorded. It is not a decision: the order recorded under the id keeps its own
/// <see cref="OrderConfirmed"/> or <see cref="OrderRejected"/>, so a consumer keyed by order id must not read this as one.
/// </summary>
public sealed record OrderIdConflict
{
    public required string OrderId { get; init; }

    /// <summary>The customer the refused submission named (bounded to the intake's field limits).</summary>
    public required string CustomerId { get; init; }

    /// <summary>When the refused submission says it was submitted.</summary>
    public required DateTimeOffset SubmittedAt { get; init; }

    public required string Detail { get; init; }
}

/// <summary>The leader's fencing token as carried in events: (generation, epoch), compared lexicographically.</summary>
public sealed record FencingTokenInfo
{
    public required long Generation { get; init; }
    public required long Epoch { get; init; }

    public override string ToString() => $"{Generation}:{Epoch}";
}

/// <summary>Why an order was rejected.</summary>
public enum RejectionReason
{
    Invalid = 1,

    // 2 is reserved: a reused order id is announced with OrderIdConflict, never as a rejection of the recorded order.
    OutOfStock = 3,
    UnknownSku = 4,
}
