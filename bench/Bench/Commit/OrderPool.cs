using Pipeline.Contracts;

namespace Pipeline.Bench.Commit;

/// <summary>
/// The CommitInventory messages of one run, made before it starts: ids PREFIX0, PREFIX1, ... (recorded in orders by
/// <see cref="CommitDatabase.RecordOrdersAsync"/>), each with 1-3 lines over distinct random SKUs, quantities 1-3.
/// Lines are shared objects and the batches are sliced up front, so the measured loop does nothing but commit.
/// </summary>
internal static class OrderPool
{
    public static List<CommitInventory[]> Batches(string prefix, int count, int batch, IReadOnlyList<string> skus, int seed)
    {
        var random = new Random(seed);
        var lines = skus.Select(sku => Enumerable.Range(1, 3).Select(q => new OrderLine { Sku = sku, Quantity = q }).ToArray()).ToArray();
        var batches = new List<CommitInventory[]>((count + batch - 1) / batch);
        var current = new List<CommitInventory>(batch);
        Span<int> picked = stackalloc int[3];
        for (var n = 0; n < count; n++)
        {
            var lineCount = random.Next(1, 4);
            var orderLines = new OrderLine[lineCount];
            for (var i = 0; i < lineCount; i++)
            {
                int sku;
                do
                {
                    sku = random.Next(skus.Count);
                }
                while (picked[..i].Contains(sku));

                picked[i] = sku;
                orderLines[i] = lines[sku][random.Next(3)];
            }

            current.Add(new CommitInventory { OrderId = prefix + n.ToString(System.Globalization.CultureInfo.InvariantCulture), Lines = orderLines });
            if (current.Count == batch)
            {
                batches.Add([.. current]);
                current.Clear();
            }
        }

        if (current.Count > 0)
        {
            batches.Add([.. current]);
        }

        return batches;
    }
}
