using Npgsql;
using Pipeline.Contracts;
using Pipeline.Inventory.Model;
using Pipeline.Inventory.Verification;
using Pipeline.Testing;

namespace Pipeline.OrderService.Tests.Cluster;

/// <summary>The database-verified assertions the cluster tests share.</summary>
public static class Checks
{
    /// <summary>The last "led" entry of a replica's /status election history: why it leads and after whom ("none" when
    /// there is none yet).</summary>
    public static (string? Previous, string Detail, string? Token) LastLed(ReplicaStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        using var document = System.Text.Json.JsonDocument.Parse(status.Json);
        var led = document.RootElement.GetProperty("history").EnumerateArray().LastOrDefault(h => h.GetProperty("event").GetString() == "led");
        return led.ValueKind == System.Text.Json.JsonValueKind.Object
            ? (led.GetProperty("previous").GetString(), led.GetProperty("detail").GetString()!, led.GetProperty("token").GetString())
            : (null, "none", null);
    }

    /// <summary>
    /// Every id is decided once (a Confirmed order and a commit rejection have exactly one ledger row, an intake rejection
    /// none) and has decision events that are all identical (at-least-once delivery may repeat one, never change it) and
    /// agree with the stored decision: token, committer and time of the ledger row, or the stored reason and detail.
    /// A reused id's OrderIdConflict notices are recorded apart and are no decision; an OrderRejected is always one.
    /// </summary>
    public static async Task<(Dictionary<string, OrderRow> Orders, ILookup<string, LedgerRow> Ledger)> DecisionsMatchEventsAsync(
        NpgsqlDataSource dataSource, EventRecorder events, IReadOnlyCollection<string> orderIds)
    {
        ArgumentNullException.ThrowIfNull(events);
        var orders = await PipelineDb.OrdersAsync(dataSource, orderIds);
        var ledger = (await PipelineDb.LedgerAsync(dataSource)).ToLookup(r => r.OrderId, StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var id in orderIds)
        {
            var decisions = events.For(id).ToList();
            var rows = ledger[id].ToList();
            if (!orders.TryGetValue(id, out var order))
            {
                problems.Add($"{id}: not in orders");
                continue;
            }

            var intakeRejection = order is { Status: OrderStatus.Rejected, Reason: nameof(RejectionReason.Invalid) };
            if (order.Status == OrderStatus.Received)
            {
                problems.Add($"{id}: undecided");
            }
            else if (rows.Count != (intakeRejection ? 0 : 1))
            {
                problems.Add($"{id}: {order.Status}/{order.Reason} with {rows.Count} ledger rows");
            }
            else if (decisions.Count == 0)
            {
                problems.Add($"{id}: {order.Status} without a decision event");
            }
            else if (decisions.Distinct().Count() != 1)
            {
                problems.Add($"{id}: differing decision events: {string.Join(" | ", decisions.Distinct())}");
            }
            else if (Mismatch(order, rows.SingleOrDefault(), decisions[0]) is { } mismatch)
            {
                problems.Add($"{id}: {mismatch}");
            }
        }

        Assert.True(problems.Count == 0, $"{problems.Count} of {orderIds.Count} orders are not decided once with matching events, e.g.:\n{string.Join("\n", problems.Take(10))}");
        return (orders, ledger);
    }

    /// <summary>Invariants 1 to 4 after the drain, with every published id required in orders.</summary>
    public static async Task<InvariantReport> InvariantsHoldAsync(NpgsqlDataSource dataSource, IReadOnlyCollection<string> publishedIds)
    {
        var report = await new InvariantChecker(dataSource).VerifyAsync(drained: true, publishedIds, scope: publishedIds);
        Assert.True(report.AllHold, $"invariants violated (orders {report.Orders}, undecided {report.Undecided}, ledger {report.LedgerRows}):\n{report}");
        return report;
    }

    /// <summary>
    /// Invariant 5: every ledger token was held by a leader. Its generation is the election path's czxid; its sequence is the
    /// sequence of an election node that existed (below the path's child counter) and that the committing node created;
    /// and the committing node was seen leading with exactly that token in a /status answer (or, for a leadership too short
    /// for the poll, said so in its log).
    /// </summary>
    public static async Task LedgerTokensWereHeldByLeadersAsync(ClusterFixture fixture, IReadOnlyList<LedgerRow> ledger)
    {
        ArgumentNullException.ThrowIfNull(fixture);
        ArgumentNullException.ThrowIfNull(ledger);
        await using var zk = await fixture.Chroot.ConnectAsync();
        var election = await zk.GetChildrenAsync(ClusterFixture.ElectionPath);
        var observed = fixture.Cluster.ObservedLeaders.Select(l => (l.NodeId, l.Token.Generation, l.Token.Sequence)).ToHashSet();
        var logged = fixture.Cluster.LoggedLeaders().Select(l => (l.NodeId, l.Token.Generation, l.Token.Sequence)).ToHashSet();
        var problems = new List<string>();
        foreach (var token in ledger.Select(r => (r.NodeId, r.Generation, r.Sequence)).Distinct())
        {
            if (token.Generation != election.Stat.Czxid)
            {
                problems.Add($"{token}: generation is not the election path's czxid {election.Stat.Czxid}");
            }

            if (token.Sequence < 0 || token.Sequence >= election.Stat.Cversion)
            {
                problems.Add($"{token}: sequence outside the sequences the election path has handed out (0..{election.Stat.Cversion - 1})");
            }

            if ((!fixture.Cluster.ObservedCandidates.TryGetValue(token.Sequence, out var creator) || creator != token.NodeId) && !logged.Contains(token))
            {
                problems.Add($"{token}: election node {token.Sequence} was {(creator is null ? "never seen" : $"created by {creator}")}");
            }

            if (!observed.Contains(token) && !logged.Contains(token))
            {
                problems.Add($"{token}: never seen leading, in /status nor in its log (seen: {string.Join(", ", observed.Union(logged))})");
            }
        }

        Assert.True(problems.Count == 0, $"ledger tokens not held by a leader:\n{string.Join("\n", problems)}");
    }

    private static string? Mismatch(OrderRow order, LedgerRow? row, object decision) => (order.Status, decision) switch
    {
        (OrderStatus.Confirmed, OrderConfirmed c) when row is not null && (c.Token.Generation, c.Token.Sequence, c.CommittedBy) != (row.Generation, row.Sequence, row.NodeId) =>
            $"event says {c.Token} by {c.CommittedBy}, ledger {row.Generation}:{row.Sequence} by {row.NodeId}",
        (OrderStatus.Confirmed, OrderConfirmed c) when row is not null && c.CommittedAt != row.CommittedAt => $"event committed at {c.CommittedAt:O}, ledger {row.CommittedAt:O}",
        (OrderStatus.Confirmed, OrderConfirmed) => null,
        (OrderStatus.Rejected, OrderRejected r) when r.Reason.ToString() != order.Reason || r.Detail != order.Detail =>
            $"event says {r.Reason} ({r.Detail}), stored {order.Reason} ({order.Detail})",
        (OrderStatus.Rejected, OrderRejected) when row is not null && row.Reason != order.Reason => $"ledger says {row.Reason}, orders {order.Reason}",
        (OrderStatus.Rejected, OrderRejected) => null,
        _ => $"stored {order.Status} but the event is {decision}",
    };
}
