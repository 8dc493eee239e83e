using Pipeline.OrderService.Tests.Cluster;
using Pipeline.Testing;

namespace Pipeline.OrderService.Tests;

/// <summary>The fixture itself: a paused replica stops answering and is left out of the leader poll, and answers again
/// once resumed (the fault suite builds on this).</summary>
[Collection(ClusterCollection.Name)]
public sealed class ReplicaClusterTests(ClusterFixture fixture)
{
    [Fact]
    public async Task A_paused_follower_does_not_answer_until_resumed_and_the_leader_stays()
    {
        var leader = await fixture.ReadyAsync();
        var follower = fixture.Cluster.Replicas.First(r => r.Index != leader.Index).Index;
        fixture.Cluster.Pause(follower);
        try
        {
            Assert.True(fixture.Cluster[follower].IsPaused);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fixture.Cluster.StatusAsync(follower));
            Assert.Equal(leader.Token, (await fixture.Cluster.LeaderAsync(timeout: TimeSpan.FromSeconds(10))).Token);
        }
        finally
        {
            fixture.Cluster.Resume(follower);
        }

        await fixture.Cluster.WaitReadyAsync(follower);
        var status = await fixture.Cluster.StatusAsync(follower);
        Assert.Equal(fixture.Cluster[follower].NodeId, status.NodeId);
        Assert.False(status.IsLeader);
    }
}
