using Pipeline.Inventory.Commit;

namespace Pipeline.ReplicaHost.FaultInjection;

/// <summary>Section "FaultInjection" of the replica host: where a commit is paused or lies to the fence. All off by default.</summary>
public sealed class FaultInjectionOptions
{
    public const string Section = "FaultInjection";

    /// <summary>A pause with the batch in hand, after the last grant check and before the transaction's first statement: where
    /// a real pause (GC, SIGSTOP, a stalled VM) lands between the check and the commit.</summary>
    public TimeSpan PauseBeforeTransaction { get; set; }

    /// <summary>A pause inside the open transaction, with the fence row locked; Postgres ends the transaction if it lasts.</summary>
    public TimeSpan PauseInsideTransaction { get; set; }

    /// <summary>Every fence statement presents the greatest token there is instead of ours: a broken leader that the fence
    /// cannot stop, so the fault suite's checker must catch it (the control runs), and the failover benchmark's unfenced peer.</summary>
    public bool ForgeFenceToken { get; set; }
}

/// <summary>The <see cref="CommitHooks"/> the replica host passes to the committer, from <see cref="FaultInjectionOptions"/>.
/// A pause observes no cancellation, as a frozen thread would not; once it ends, the commit goes on without the (by now
/// cancelled) grant's token, as the real process would: nothing but the fence stands between its old token and Postgres.</summary>
internal sealed class FaultInjectionHooks : CommitHooks
{
    private static readonly FenceToken Greatest = new(long.MaxValue, long.MaxValue);
    private readonly FaultInjectionOptions options;

    public FaultInjectionHooks(FaultInjectionOptions options, ILogger<FaultInjectionHooks> logger)
    {
        this.options = options;
        if (options.ForgeFenceToken)
        {
            logger.LogCritical("FAULT INJECTION: every fence statement presents a forged token; stale commits are NOT refused");
        }

        if (options.PauseBeforeTransaction > TimeSpan.Zero || options.PauseInsideTransaction > TimeSpan.Zero)
        {
            logger.LogWarning("FAULT INJECTION: commits pause {Before} before and {Inside} inside their transaction", options.PauseBeforeTransaction, options.PauseInsideTransaction);
        }
    }

    public override FenceToken PresentedToFence(FenceToken token) => options.ForgeFenceToken ? Greatest : token;

    public override async ValueTask<bool> BeforeTransactionAsync(int orders, CancellationToken cancellationToken)
    {
        if (options.PauseBeforeTransaction <= TimeSpan.Zero)
        {
            return false;
        }

        cancellationToken.ThrowIfCancellationRequested();
        await Task.Delay(options.PauseBeforeTransaction, CancellationToken.None);
        return true;
    }

    public override async ValueTask<bool> InsideTransactionAsync(CancellationToken cancellationToken)
    {
        if (options.PauseInsideTransaction <= TimeSpan.Zero)
        {
            return false;
        }

        await Task.Delay(options.PauseInsideTransaction, CancellationToken.None);
        return true;
    }
}
