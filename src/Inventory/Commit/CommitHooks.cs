namespace Pipeline.Inventory.Commit;

/// <summary>
/// Points of a commit where the fault suite and the failover benchmark inject faults: a pause with a batch in hand, a pause
/// with the fence row locked, a leader that presents a forged token to the fence. The product always runs <see cref="None"/>;
/// only the test and benchmark replica host (and in-process tests) can pass another, through the internal constructor of
/// <see cref="FencedCommitter"/>. The fence check itself has no switch: a forged token is judged like any other.
/// </summary>
internal class CommitHooks
{
    /// <summary>The product's hooks: no pause, the real token.</summary>
    public static readonly CommitHooks None = new();

    /// <summary>The token the fence statements present for <paramref name="token"/> (the ledger always records the real one).</summary>
    public virtual FenceToken PresentedToFence(FenceToken token) => token;

    /// <summary>Runs before the transaction's first statement, with the batch in hand. True when the commit must then go on as
    /// a frozen-and-woken process would: ignoring the cancellation of a lease that ended meanwhile.</summary>
    public virtual ValueTask<bool> BeforeTransactionAsync(int orders, CancellationToken cancellationToken) => ValueTask.FromResult(false);

    /// <summary>Runs inside the transaction, after the fence row is locked; true as for <see cref="BeforeTransactionAsync"/>.</summary>
    public virtual ValueTask<bool> InsideTransactionAsync(CancellationToken cancellationToken) => ValueTask.FromResult(false);
}
