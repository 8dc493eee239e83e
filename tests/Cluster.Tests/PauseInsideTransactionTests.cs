using Xunit.Abstractions;

namespace Pipeline.Cluster.Tests;

/// <summary>Fault 3: the leader is frozen with a batch in hand, inside the open transaction (holding the fence row lock).
/// Postgres must end the frozen transaction (idle_in_transaction_session_timeout) so the successor can bump the fence; the
/// woken ex-leader's commit fails. No violation.</summary>
[Collection(ChaosCollection.Name)]
public sealed class PauseInsideTransactionTests(DelayInsideTransactionCluster chaos, ITestOutputHelper output) : IClassFixture<DelayInsideTransactionCluster>
{
    [Fact]
    public async Task Fault_3_SIGSTOP_of_the_leader_inside_its_commit_transaction()
    {
        var run = new FaultRun(chaos, output);
        var violations = await run.RepeatAsync("pause-inside-tx", new Nemesis(chaos, run).PauseLeaderWithBatchInHandAsync);
        Assert.True(violations.Count == 0, $"{violations.Count} violations:\n{string.Join("\n", violations.Take(20))}\n{chaos.Describe()}");
    }
}
