using Pipeline.Contracts;
using Pipeline.Inventory.Model;
using Pipeline.Testing;

namespace Pipeline.Cluster.Tests;

/// <summary>The checker's own controls: a clean hand-made history passes, and each kind of bad history is reported.</summary>
public sealed class HistoryCheckerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_clean_history_has_no_violations() => Assert.Empty(HistoryChecker.Check(Clean()));

    [Fact]
    public void A_stale_token_commit_after_a_newer_token_violates_invariant_4()
    {
        var h = Clean();
        var ledger = h.Ledger.Append(Row(4, "o-4", "n1", 7, 1)).ToList();
        var v = HistoryChecker.Check(h with { Ledger = ledger, Published = [.. h.Published, "o-4"], Orders = With(h, Order("o-4")), Events = With(h, "o-4", Confirmed("o-4", "n1", 7, 1)) });
        Assert.Contains(v, x => x.StartsWith("invariant 4: commit_seq 4", StringComparison.Ordinal));
    }

    [Fact]
    public void A_token_no_recorded_leader_held_violates_invariant_5()
    {
        var h = Clean();
        var v = HistoryChecker.Check(h with { Leaders = new HashSet<Leadership> { new("n1", 7, 1) } });
        Assert.Contains(v, x => x.StartsWith("invariant 5: n2 committed with token 7:2", StringComparison.Ordinal));
    }

    [Fact]
    public void A_token_held_by_another_node_violates_invariant_5()
    {
        var h = Clean();
        var v = HistoryChecker.Check(h with { Leaders = new HashSet<Leadership> { new("n1", 7, 1), new("n3", 7, 2) } });
        Assert.Contains(v, x => x.StartsWith("invariant 5: n2", StringComparison.Ordinal));
    }

    [Fact]
    public void A_commit_begun_after_a_newer_token_bumped_the_fence_violates_invariant_5()
    {
        // n2 (7:2) bumped the fence at T0 + 0.5 s; n1's commit of o-1 under 7:1 began at T0 + 1 s, the ledger order still fine.
        var h = Clean();
        var v = HistoryChecker.Check(h with { FencedSince = new Dictionary<(long, long), DateTimeOffset> { [(7, 1)] = T0, [(7, 2)] = T0.AddSeconds(0.5) } });
        Assert.Contains(v, x => x.StartsWith("invariant 5: commit_seq 1 (o-1 by n1) began at 00:00:01.000 under token 7:1, after token 7:2", StringComparison.Ordinal));
        Assert.DoesNotContain(v, x => x.StartsWith("invariant 4", StringComparison.Ordinal));
    }

    [Fact]
    public void Two_ledger_rows_for_one_order_violate_invariant_2() =>
        Assert.Contains(HistoryChecker.Check(Clean() with { Ledger = [.. Clean().Ledger, Row(4, "o-2", "n2", 7, 2)] }), x => x.StartsWith("invariant 2: o-2", StringComparison.Ordinal));

    [Fact]
    public void A_published_order_never_recorded_or_undecided_violates_invariant_3()
    {
        var h = Clean();
        var undecided = new Dictionary<string, OrderRow>(h.Orders) { ["o-1"] = h.Orders["o-1"] with { Status = OrderStatus.Received } };
        var v = HistoryChecker.Check(h with { Published = [.. h.Published, "lost"], Orders = undecided });
        Assert.Contains("invariant 3: lost published, never recorded", v);
        Assert.Contains("invariant 3: o-1 still undecided after the heal", v);
    }

    [Fact]
    public void A_confirmed_event_with_another_token_than_the_ledger_is_reported()
    {
        var h = Clean();
        var v = HistoryChecker.Check(h with { Events = With(h, "o-2", Confirmed("o-2", "n1", 7, 1)) });
        Assert.Contains(v, x => x.StartsWith("events: o-2: event says 7:1 by n1, ledger 7:2 by n2", StringComparison.Ordinal));
    }

    [Fact]
    public void A_rejected_event_with_another_reason_than_the_order_is_reported()
    {
        var h = Clean();
        var v = HistoryChecker.Check(h with { Events = With(h, "o-3", new OrderRejected { OrderId = "o-3", Reason = RejectionReason.UnknownSku }) });
        Assert.Contains(v, x => x.StartsWith("events: o-3: event says UnknownSku, orders.reason OutOfStock", StringComparison.Ordinal));
    }

    [Fact]
    public void A_decided_order_without_an_event_or_with_two_different_events_is_reported()
    {
        var h = Clean();
        var events = new Dictionary<string, IReadOnlyList<object>>(h.Events) { ["o-1"] = [], ["o-2"] = [Confirmed("o-2", "n2", 7, 2), Confirmed("o-2", "n1", 7, 1)] };
        var v = HistoryChecker.Check(h with { Events = events });
        Assert.Contains("events: o-1: Confirmed without a decision event", v);
        Assert.Contains(v, x => x.StartsWith("events: o-2: differing decision events", StringComparison.Ordinal));
    }

    /// <summary>n1 led with 7:1 and committed o-1; n2 took over with 7:2 and committed o-2 (confirmed) and o-3 (out of
    /// stock); o-5 was invalid at intake (no ledger row).</summary>
    private static History Clean() => new(
        ["o-1", "o-2", "o-3", "o-5"],
        new Dictionary<string, OrderRow>
        {
            ["o-1"] = Order("o-1"),
            ["o-2"] = Order("o-2"),
            ["o-3"] = Order("o-3") with { Status = OrderStatus.Rejected, Reason = "OutOfStock" },
            ["o-5"] = Order("o-5") with { Status = OrderStatus.Rejected, Reason = "Invalid" },
        },
        [Row(1, "o-1", "n1", 7, 1), Row(2, "o-2", "n2", 7, 2), Row(3, "o-3", "n2", 7, 2) with { Outcome = OrderStatus.Rejected, Reason = "OutOfStock" }],
        new Dictionary<string, IReadOnlyList<object>>
        {
            ["o-1"] = [Confirmed("o-1", "n1", 7, 1)],
            ["o-2"] = [Confirmed("o-2", "n2", 7, 2), Confirmed("o-2", "n2", 7, 2)],
            ["o-3"] = [new OrderRejected { OrderId = "o-3", Reason = RejectionReason.OutOfStock }],
            ["o-5"] = [new OrderRejected { OrderId = "o-5", Reason = RejectionReason.Invalid }],
        },
        new HashSet<Leadership> { new("n1", 7, 1), new("n2", 7, 2) },
        new Dictionary<(long, long), DateTimeOffset> { [(7, 1)] = T0, [(7, 2)] = T0.AddSeconds(1.5) });

    private static OrderRow Order(string id) => new(id, "c", "[]", "h", OrderStatus.Confirmed, null, null, "n1", T0);

    private static LedgerRow Row(long seq, string id, string node, long generation, long sequence) => new(seq, id, generation, sequence, node, OrderStatus.Confirmed, null, T0.AddSeconds(seq));

    private static OrderConfirmed Confirmed(string id, string node, long generation, long sequence) =>
        new() { OrderId = id, Token = new FencingTokenInfo { Generation = generation, Sequence = sequence }, CommittedBy = node, CommittedAt = T0 };

    private static Dictionary<string, OrderRow> With(History h, OrderRow row) => new(h.Orders) { [row.OrderId] = row };

    private static Dictionary<string, IReadOnlyList<object>> With(History h, string id, object decision) => new(h.Events) { [id] = [decision] };
}
