using Pipeline.Contracts;
using Pipeline.Inventory.Model;

namespace Pipeline.Testing;

/// <summary>A leadership as the election history recorded it: node and token (generation = the election path's czxid, sequence = the leader node's sequence).</summary>
public sealed record Leadership(string NodeId, long Generation, long Sequence);

/// <summary>
/// What happened in one run: the ids the storefront published, the orders and ledger rows in Postgres after the heal and
/// the drain, the decision events the storefront received, the leaderships the election history recorded.
/// </summary>
public sealed record History(
    IReadOnlyCollection<string> Published,
    IReadOnlyDictionary<string, OrderRow> Orders,
    IReadOnlyList<LedgerRow> Ledger,
    IReadOnlyDictionary<string, IReadOnlyList<object>> Events,
    IReadOnlySet<Leadership> Leaders,
    IReadOnlyDictionary<(long Generation, long Sequence), DateTimeOffset>? FencedSince = null);

/// <summary>
/// The fault suite's checker over a <see cref="History"/>. Pure (no I/O), so its own tests can feed it hand-made bad
/// histories. Checks, besides what <c>InvariantChecker</c> reads from the database: (2) at most one ledger row per order,
/// (3) every published order recorded and decided, (4) ledger tokens non-decreasing in commit order, (5) every ledger
/// token held by a leader, and each decision event consistent with the stored decision.
/// </summary>
public static class HistoryChecker
{
    public static IReadOnlyList<string> Check(History history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var violations = new List<string>();
        var ledger = history.Ledger.OrderBy(r => r.CommitSeq).ToList();
        foreach (var twice in ledger.GroupBy(r => r.OrderId, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            violations.Add($"invariant 2: {twice.Key} has {twice.Count()} ledger rows");
        }

        for (var i = 1; i < ledger.Count; i++)
        {
            var (previous, row) = (ledger[i - 1], ledger[i]);
            if ((row.Generation, row.Sequence).CompareTo((previous.Generation, previous.Sequence)) < 0)
            {
                violations.Add($"invariant 4: commit_seq {row.CommitSeq} ({row.OrderId} by {row.NodeId}) has token {row.Generation}:{row.Sequence} " +
                               $"after {previous.Generation}:{previous.Sequence} (commit_seq {previous.CommitSeq} by {previous.NodeId})");
            }
        }

        foreach (var token in ledger.Select(r => new Leadership(r.NodeId, r.Generation, r.Sequence)).Distinct().Where(t => !history.Leaders.Contains(t)))
        {
            violations.Add($"invariant 5: {token.NodeId} committed with token {token.Generation}:{token.Sequence}, which no recorded leader held " +
                           $"(recorded: {string.Join(", ", history.Leaders.Select(l => $"{l.NodeId} {l.Generation}:{l.Sequence}"))})");
        }

        violations.AddRange(CommitsAfterANewerLeaderFenced(ledger, history.FencedSince));

        var byOrder = ledger.ToLookup(r => r.OrderId, StringComparer.Ordinal);
        foreach (var id in history.Published)
        {
            if (!history.Orders.TryGetValue(id, out var order))
            {
                violations.Add($"invariant 3: {id} published, never recorded");
                continue;
            }

            if (order.Status == OrderStatus.Received)
            {
                violations.Add($"invariant 3: {id} still undecided after the heal");
                continue;
            }

            var events = (history.Events.TryGetValue(id, out var e) ? e : []).Distinct().ToList();
            if (EventProblem(order, byOrder[id].FirstOrDefault(), events) is { } problem)
            {
                violations.Add($"events: {id}: {problem}");
            }
        }

        return violations;
    }

    /// <summary>Invariant 5 in time: a ledger row whose transaction started after a newer token had bumped the fence was
    /// committed by a leader that no longer held leadership. (With the fence, such a transaction is refused; a transaction
    /// that began before the bump holds the fence row, so the bump, and its log line, come after it.)</summary>
    private static IEnumerable<string> CommitsAfterANewerLeaderFenced(List<LedgerRow> ledger, IReadOnlyDictionary<(long Generation, long Sequence), DateTimeOffset>? fencedSince)
    {
        if (fencedSince is not { Count: > 0 })
        {
            yield break;
        }

        var tokens = fencedSince.OrderBy(t => t.Key).ToList();
        foreach (var row in ledger)
        {
            var newer = tokens.Where(t => t.Key.CompareTo((row.Generation, row.Sequence)) > 0 && t.Value < row.CommittedAt).Select(t => ((long, long)?)t.Key).FirstOrDefault();
            if (newer is { } n)
            {
                yield return $"invariant 5: commit_seq {row.CommitSeq} ({row.OrderId} by {row.NodeId}) began at {row.CommittedAt:HH:mm:ss.fff} under token " +
                             $"{row.Generation}:{row.Sequence}, after token {n.Item1}:{n.Item2} had bumped the fence at {fencedSince[n]:HH:mm:ss.fff}";
            }
        }
    }

    private static string? EventProblem(OrderRow order, LedgerRow? row, List<object> events)
    {
        if (events.Count == 0)
        {
            return $"{order.Status} without a decision event";
        }

        if (events.Count > 1)
        {
            return $"differing decision events: {string.Join(" | ", events)}";
        }

        var intake = order is { Status: OrderStatus.Rejected, Reason: nameof(RejectionReason.Invalid) };
        if (row is null && !intake)
        {
            return $"{order.Status}/{order.Reason} without a ledger row";
        }

        return (order.Status, events[0]) switch
        {
            (OrderStatus.Confirmed, OrderConfirmed c) when (c.Token.Generation, c.Token.Sequence, c.CommittedBy) != (row!.Generation, row.Sequence, row.NodeId) =>
                $"event says {c.Token} by {c.CommittedBy}, ledger {row.Generation}:{row.Sequence} by {row.NodeId}",
            (OrderStatus.Confirmed, OrderConfirmed) => null,
            (OrderStatus.Rejected, OrderRejected r) when r.Reason.ToString() != order.Reason => $"event says {r.Reason}, orders.reason {order.Reason}",
            (OrderStatus.Rejected, OrderRejected) when row is not null && row.Reason != order.Reason => $"ledger says {row.Reason}, orders.reason {order.Reason}",
            (OrderStatus.Rejected, OrderRejected) => null,
            (var status, var decision) => $"stored {status} but the event is {decision}",
        };
    }
}
