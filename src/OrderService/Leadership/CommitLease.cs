using Pipeline.Inventory.Commit;
using Pipeline.ZooKeeper.Recipes;

namespace Pipeline.OrderService.Leadership;

/// <summary>The lease under which the commit endpoint currently runs, for its consumer: set before the endpoint is
/// connected, cleared after it is stopped. A consumer that finds none, or a revoked one, must not commit.</summary>
public sealed class CommitLease
{
    private LeadershipLease? current;

    public LeadershipLease? Current => Volatile.Read(ref current);

    internal void Set(LeadershipLease? lease) => Volatile.Write(ref current, lease);

    /// <summary>Raised when a commit was refused by the fence: the replica must step down.</summary>
    public event EventHandler<StaleLeaderException>? FencedOff;

    internal void ReportFencedOff(StaleLeaderException exception) => FencedOff?.Invoke(this, exception);

    public static FenceToken ToFenceToken(FencingToken token) => new(token.Generation, token.Sequence);
}
