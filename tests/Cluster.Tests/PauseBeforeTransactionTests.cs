using Xunit.Abstractions;

namespace Pipeline.Cluster.Tests;

/// <summary>Fault 3: the leader is frozen with a batch in hand before its transaction begins. On waking it tries to commit
/// under its old token; the fence refuses (a fence rejection) and it steps down. No violation.</summary>
[Collection(ChaosCollection.Name)]
public sealed class PauseBeforeTransactionTests(DelayBeforeTransactionCluster chaos, ITestOutputHelper output) : IClassFixture<DelayBeforeTransactionCluster>
{
    [Fact]
    public async Task Fault_3_SIGSTOP_of_the_leader_with_a_batch_in_hand_before_its_transaction()
    {
        var run = new FaultRun(chaos, output);
        var violations = await run.RepeatAsync("pause-before-tx", new Nemesis(chaos, run).PauseLeaderWithBatchInHandAsync);
        Assert.True(violations.Count == 0, $"{violations.Count} violations:\n{string.Join("\n", violations.Take(20))}\n{chaos.Describe()}");
    }
}
