using Pipeline.Contracts;

namespace Pipeline.Inventory.Commit;

/// <summary>
/// A batch checked before its transaction opens (validation needs no lock) and decided inside it against the locked stock:
/// orders in message order, each all-or-nothing; a repeated order id within the batch is decided once.
/// </summary>
internal sealed class CommitPlan
{
    private readonly List<(CommitInventory Message, IReadOnlyList<OrderLine>? Lines, string? Problem)> items;

    private CommitPlan(List<(CommitInventory, IReadOnlyList<OrderLine>?, string?)> items, string[] orderIds, string[] skus)
    {
        this.items = items;
        OrderIds = orderIds;
        Skus = skus;
    }

    /// <summary>Ids with a usable key (to look up earlier decisions).</summary>
    public string[] OrderIds { get; }

    /// <summary>Every SKU of the valid orders, sorted, so stock rows are always locked in the same order (no deadlocks).</summary>
    public string[] Skus { get; }

    /// <summary>SKUs whose on_hand the decisions changed.</summary>
    public SortedSet<string> ChangedSkus { get; } = new(StringComparer.Ordinal);

    public static CommitPlan Create(IReadOnlyList<CommitInventory> batch)
    {
        var items = new List<(CommitInventory, IReadOnlyList<OrderLine>?, string?)>(batch.Count);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var skus = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var message in batch)
        {
            var (lines, problem) = OrderValidation.Validate(message?.OrderId, message?.Lines);
            items.Add((message!, lines, problem));
            if (OrderValidation.IsUsableId(message?.OrderId))
            {
                ids.Add(message!.OrderId);
            }

            foreach (var line in lines ?? [])
            {
                skus.Add(line.Sku);
            }
        }

        return new CommitPlan(items, [.. ids], [.. skus]);
    }

    /// <summary>Decides each order; <paramref name="stock"/> is updated in place with the reservations made.</summary>
    public List<OrderDecision> Decide(Dictionary<string, OrderDecision> earlier, Dictionary<string, int> stock, FenceToken token, string nodeId, DateTimeOffset now)
    {
        var decisions = new List<OrderDecision>(items.Count);
        var thisBatch = new Dictionary<string, OrderDecision>(StringComparer.Ordinal);
        foreach (var (message, lines, problem) in items)
        {
            var id = message?.OrderId;
            var recorded = OrderValidation.IsUsableId(id);
            if (recorded && (earlier.TryGetValue(id!, out var before) || thisBatch.TryGetValue(id!, out before)))
            {
                decisions.Add(before with { AlreadyDecided = true });
                continue;
            }

            var decision = Decide(id ?? "", lines, problem, stock, token, nodeId, now) with { Recorded = recorded };
            decisions.Add(decision);
            if (recorded)
            {
                thisBatch[id!] = decision;
            }
        }

        return decisions;
    }

    private OrderDecision Decide(string id, IReadOnlyList<OrderLine>? lines, string? problem, Dictionary<string, int> stock, FenceToken token, string nodeId, DateTimeOffset now)
    {
        var decision = new OrderDecision { OrderId = id, Confirmed = false, Token = token, NodeId = nodeId, CommittedAt = now };
        if (lines is null)
        {
            return decision with { Reason = RejectionReason.Invalid, Detail = problem };
        }

        foreach (var line in lines)
        {
            if (!stock.TryGetValue(line.Sku, out var available))
            {
                return decision with { Reason = RejectionReason.UnknownSku, Detail = line.Sku };
            }

            if (available < line.Quantity)
            {
                return decision with { Reason = RejectionReason.OutOfStock, Detail = $"{line.Sku}: {line.Quantity} wanted, {available} on hand" };
            }
        }

        foreach (var line in lines)
        {
            stock[line.Sku] -= line.Quantity;
            ChangedSkus.Add(line.Sku);
        }

        return decision with { Confirmed = true };
    }
}
