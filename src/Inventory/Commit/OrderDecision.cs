using Pipeline.Contracts;

namespace Pipeline.Inventory.Commit;

/// <summary>How one order of a batch was decided. <see cref="AlreadyDecided"/>: it had been decided before (a redelivery),
/// and the fields are the original decision, to be re-published.</summary>
public sealed record OrderDecision
{
    public required string OrderId { get; init; }

    public required bool Confirmed { get; init; }

    public RejectionReason? Reason { get; init; }

    public string? Detail { get; init; }

    public required FenceToken Token { get; init; }

    public required string NodeId { get; init; }

    public required DateTimeOffset CommittedAt { get; init; }

    public bool AlreadyDecided { get; init; }

    /// <summary>False for an order without a usable id (<see cref="OrderValidation.IsUsableId"/>): it is decided Invalid without
    /// any row, since there is no key to write.</summary>
    public bool Recorded { get; init; } = true;

    public override string ToString() =>
        $"{OrderId}: {(Confirmed ? "Confirmed" : $"Rejected({Reason}: {Detail})")}{(AlreadyDecided ? " (already decided)" : "")} by {NodeId} {Token}";
}
