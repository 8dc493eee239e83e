using Xunit.Abstractions;

namespace Pipeline.Cluster.Tests;

/// <summary>
/// The control that proves the suite can fail: scenario 3 (the leader frozen with a batch in hand before its transaction)
/// on replicas (in Pipeline.ReplicaHost) with FaultInjection__ForgeFenceToken=true: each presents a forged token to the fence,
/// which judges it like any other and so refuses nothing. The woken ex-leader commits its batch under its old token (the
/// ledger records the real one) after the successor's commits, and the checker must report it (invariant 4: tokens not non-decreasing in commit
/// order). The same fault with the fence on (<see cref="PauseBeforeTransactionTests"/>) ends in a fence rejection instead.
/// </summary>
[Collection(ChaosCollection.Name)]
public sealed class FenceDisabledControlTests(FenceDisabledCluster chaos, ITestOutputHelper output) : IClassFixture<FenceDisabledCluster>
{
    [Fact]
    public async Task Without_the_fence_check_a_stale_leader_commit_is_reported_by_the_checker()
    {
        var run = new FaultRun(chaos, output);
        var report = await run.RunAsync("control-no-fence", new Nemesis(chaos, run).PauseLeaderWithBatchInHandAsync);
        output.WriteLine($"without the fence the checker reports:\n  {string.Join("\n  ", report.Violations.Take(5))}");
        Assert.True(report.Violations.Any(v => v.StartsWith("invariant 4", StringComparison.Ordinal) || v.StartsWith("invariant 5", StringComparison.Ordinal)),
            $"the checker found no stale commit ({report}); violations: {string.Join("; ", report.Violations)}\n{chaos.Describe()}");
        Assert.Equal(0, report.FenceRejections);
    }
}
