using Pipeline.Contracts;

namespace Pipeline.Inventory.Commit;

/// <summary>
/// The one validator of order content, used at intake and again at commit. Rules: an order id and at least one line;
/// at most <see cref="MaxLines"/> lines; every SKU non-empty and every quantity positive. The same SKU on several lines is
/// one reservation of the summed quantity (a storefront that splits a cart line means the total); a sum past int.MaxValue
/// is invalid.
/// </summary>
public static class OrderValidation
{
    public const int MaxLines = 1000;
    public const int MaxIdLength = 200;

    /// <summary>The lines merged by SKU in first-seen order, or why the order is invalid.</summary>
    public static (IReadOnlyList<OrderLine>? Lines, string? Problem) Validate(string? orderId, IReadOnlyList<OrderLine>? lines)
    {
        if (string.IsNullOrWhiteSpace(orderId))
        {
            return (null, "the order id is missing");
        }

        if (orderId.Length > MaxIdLength)
        {
            return (null, $"the order id is longer than {MaxIdLength} characters");
        }

        if (lines is null || lines.Count == 0)
        {
            return (null, "the order has no lines");
        }

        if (lines.Count > MaxLines)
        {
            return (null, $"the order has {lines.Count} lines, more than {MaxLines}");
        }

        var merged = new Dictionary<string, long>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var line in lines)
        {
            if (line is null || string.IsNullOrWhiteSpace(line.Sku))
            {
                return (null, "a line has no SKU");
            }

            if (line.Quantity <= 0)
            {
                return (null, $"line {line.Sku} has quantity {line.Quantity}; quantities must be positive");
            }

            if (!merged.TryGetValue(line.Sku, out var sum))
            {
                order.Add(line.Sku);
            }

            sum += line.Quantity;
            if (sum > int.MaxValue)
            {
                return (null, $"the quantities of {line.Sku} add up past {int.MaxValue}");
            }

            merged[line.Sku] = sum;
        }

        return ([.. order.Select(sku => new OrderLine { Sku = sku, Quantity = (int)merged[sku] })], null);
    }
}
