using Pipeline.Testing;
using Pipeline.ZooKeeper.Recipes;

namespace Pipeline.ZooKeeper.Tests.Recipes;

/// <summary>The history checker itself: it must fail on bad histories, or the safety test proves nothing.</summary>
public sealed class LeaseHistoryCheckerTests
{
    private static LeaseRecord Lease(string node, long seq, long from, long? to, long gen = 1, long? external = null) =>
        new(node, $"_c_x-n_{seq:0000000000}", new FencingToken(gen, seq), from, to, external);

    [Fact]
    public void A_clean_handover_passes()
    {
        Assert.Empty(LeaseHistory.Check([Lease("a", 1, 0, 10), Lease("b", 2, 11, 20), Lease("b", 2, 25, 30), Lease("c", 1, 31, 40, gen: 2)]));
    }

    [Fact]
    public void Two_leases_held_at_once_fail()
    {
        var problems = LeaseHistory.Check([Lease("a", 1, 0, 15), Lease("b", 2, 10, 20)]);
        Assert.Contains(problems, p => p.StartsWith("overlap", StringComparison.Ordinal));
    }

    [Fact]
    public void A_lease_never_revoked_overlaps_every_later_one()
    {
        Assert.NotEmpty(LeaseHistory.Check([Lease("a", 1, 0, null), Lease("b", 2, 100, 200)]));
    }

    [Fact]
    public void A_token_going_backwards_fails()
    {
        var problems = LeaseHistory.Check([Lease("a", 5, 0, 10), Lease("b", 3, 11, 20)]);
        Assert.Contains(problems, p => p.StartsWith("token went backwards", StringComparison.Ordinal));
    }

    [Fact]
    public void One_token_held_by_two_nodes_fails()
    {
        var problems = LeaseHistory.Check([Lease("a", 5, 0, 10), Lease("b", 5, 11, 20)]);
        Assert.Contains(problems, p => p.StartsWith("one token, two holders", StringComparison.Ordinal));
    }

    [Fact]
    public void An_external_end_counts_as_the_end_of_a_lease()
    {
        Assert.Empty(LeaseHistory.Check([Lease("a", 1, 0, 30, external: 10), Lease("b", 2, 11, 20)]));
        Assert.NotEmpty(LeaseHistory.Check([Lease("a", 1, 0, 30, external: 15), Lease("b", 2, 11, 20)]));
    }
}
