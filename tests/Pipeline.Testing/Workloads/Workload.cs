using Pipeline.Contracts;

namespace Pipeline.Testing;

/// <summary>Orders to publish, and which of them must be rejected for what.</summary>
public sealed record Workload(IReadOnlyList<OrderSubmitted> Orders, IReadOnlySet<string> Invalid, IReadOnlySet<string> UnknownSku)
{
    public IReadOnlyList<string> Ids { get; } = [.. Orders.Select(o => o.OrderId)];

    public static OrderSubmitted Order(string id, params (string Sku, int Quantity)[] lines) =>
        new() { OrderId = id, CustomerId = "c-" + id, Lines = [.. lines.Select(l => new OrderLine { Sku = l.Sku, Quantity = l.Quantity })], SubmittedAt = DateTimeOffset.UtcNow };

    /// <summary>
    /// <paramref name="count"/> orders over <paramref name="skus"/> (1 to 3 lines, 1 to 3 units each), of which about
    /// <paramref name="invalidRatio"/> are invalid (no lines, a zero or negative quantity, a line without SKU) and about
    /// <paramref name="unknownRatio"/> order a single SKU that is not stocked.
    /// </summary>
    public static Workload Mixed(string prefix, int count, IReadOnlyList<string> skus, int seed, double invalidRatio = 0, double unknownRatio = 0)
    {
        ArgumentNullException.ThrowIfNull(skus);
        var random = new Random(seed);
        var orders = new List<OrderSubmitted>(count);
        var invalid = new HashSet<string>(StringComparer.Ordinal);
        var unknown = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var id = $"{prefix}-{i:00000}";
            var roll = random.NextDouble();
            var lines = Enumerable.Range(0, random.Next(1, 4)).Select(_ => (skus[random.Next(skus.Count)], random.Next(1, 4))).ToArray();
            if (roll < invalidRatio)
            {
                invalid.Add(id);
                lines = (i % 4) switch
                {
                    0 => [],
                    1 => [.. lines.Select(l => (l.Item1, 0))],
                    2 => [(lines[0].Item1, -random.Next(1, 5))],
                    _ => [("", 1)],
                };
            }
            else if (roll < invalidRatio + unknownRatio)
            {
                unknown.Add(id);
                lines = [("NO-SUCH-SKU-" + (i % 7), 1)];
            }

            orders.Add(Order(id, lines));
        }

        return new Workload(orders, invalid, unknown);
    }
}
