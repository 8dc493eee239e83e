using System.Diagnostics.CodeAnalysis;
using System.Text;
using Pipeline.Contracts;

namespace Pipeline.Inventory.Commit;

/// <summary>
/// The one validator of order content, used at intake and again at commit. An order needs a usable id (see
/// <see cref="IsUsableId"/>) and 1 to <see cref="MaxLines"/> lines; every SKU is non-blank, at most
/// <see cref="MaxSkuLength"/> characters, and every quantity positive; the customer id is at most
/// <see cref="MaxCustomerIdLength"/> characters. No field may hold a control character (NUL among them, which PostgreSQL
/// cannot store in text) or a lone UTF-16 surrogate (which has no UTF-8 form). The same SKU on several lines is one
/// reservation of the summed quantity (a storefront that splits a cart line means the total); a sum past int.MaxValue is
/// invalid.
/// </summary>
public static class OrderValidation
{
    public const int MaxLines = 1000;
    public const int MaxIdLength = 200;
    public const int MaxSkuLength = 100;
    public const int MaxCustomerIdLength = 200;

    /// <summary>How many lines of an order rejected at intake are stored: enough to recognise it, bounded whatever was sent.</summary>
    public const int MaxStoredRejectedLines = 100;

    /// <summary>Whether <paramref name="orderId"/> can key an order row: non-blank, at most <see cref="MaxIdLength"/>
    /// characters, printable. An order without one cannot be recorded, decided or announced under its id. This is the one
    /// statement of the rule: intake, commit, the CLI and the tests call it rather than repeat it.</summary>
    public static bool IsUsableId([NotNullWhen(true)] string? orderId) => IdProblem(orderId) is null;

    /// <summary>The lines merged by SKU in first-seen order, or why the order is invalid (the reason quotes the sent values
    /// only in <see cref="Printable"/> form, so it can be stored and logged).</summary>
    public static (IReadOnlyList<OrderLine>? Lines, string? Problem) Validate(string? orderId, IReadOnlyList<OrderLine>? lines)
    {
        if (IdProblem(orderId) is { } idProblem)
        {
            return (null, idProblem);
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

            if (line.Sku.Length > MaxSkuLength)
            {
                return (null, $"SKU {Printable(line.Sku, 40)} is longer than {MaxSkuLength} characters");
            }

            if (!IsPrintable(line.Sku))
            {
                return (null, $"SKU {Printable(line.Sku, 40)} contains a control character or an invalid one");
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

    /// <summary>As <see cref="Validate(string?, IReadOnlyList{OrderLine}?)"/>, with the customer id the intake also checks.</summary>
    public static (IReadOnlyList<OrderLine>? Lines, string? Problem) Validate(string? orderId, string? customerId, IReadOnlyList<OrderLine>? lines)
    {
        if (IdProblem(orderId) is { } idProblem)
        {
            return (null, idProblem);
        }

        if (customerId is { Length: > MaxCustomerIdLength })
        {
            return (null, $"the customer id is longer than {MaxCustomerIdLength} characters");
        }

        if (customerId is not null && !IsPrintable(customerId))
        {
            return (null, "the customer id contains a control character or an invalid one");
        }

        return Validate(orderId, lines);
    }

    /// <summary>A form of <paramref name="text"/> that can always be stored and logged: control characters and lone
    /// surrogates become U+FFFD, and anything past <paramref name="maxLength"/> characters is cut (marked with an ellipsis).</summary>
    public static string Printable(string? text, int maxLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        if (string.IsNullOrEmpty(text))
        {
            return text ?? "";
        }

        var cut = text.Length > maxLength;
        var builder = new StringBuilder(Math.Min(text.Length, maxLength) + 1);
        foreach (var rune in Runes(cut ? text[..maxLength] : text))
        {
            builder.Append(rune is { } r && !Rune.IsControl(r) ? r.ToString() : "\uFFFD");
        }

        return cut ? builder.Append('…').ToString() : builder.ToString();
    }

    /// <summary>What of a refused order is stored: its first <see cref="MaxStoredRejectedLines"/> lines, each SKU in
    /// <see cref="Printable"/> form and at most <see cref="MaxSkuLength"/> characters.</summary>
    public static IReadOnlyList<OrderLine> StoredForm(IReadOnlyList<OrderLine>? lines) =>
        [.. (lines ?? []).Take(MaxStoredRejectedLines).Select(l => new OrderLine { Sku = Printable(l?.Sku, MaxSkuLength), Quantity = l?.Quantity ?? 0 })];

    /// <summary>Why <paramref name="orderId"/> is not usable, or null when it is (see <see cref="IsUsableId"/>).</summary>
    private static string? IdProblem(string? orderId)
    {
        if (string.IsNullOrWhiteSpace(orderId))
        {
            return "the order id is missing";
        }

        if (orderId.Length > MaxIdLength)
        {
            return $"the order id is longer than {MaxIdLength} characters";
        }

        return IsPrintable(orderId) ? null : "the order id contains a control character or an invalid one";
    }

    private static bool IsPrintable(string text) => Runes(text).All(r => r is { } rune && !Rune.IsControl(rune));

    /// <summary>The text's runes, null for each lone surrogate.</summary>
    private static IEnumerable<Rune?> Runes(string text)
    {
        for (var i = 0; i < text.Length;)
        {
            if (Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out var consumed) == System.Buffers.OperationStatus.Done)
            {
                yield return rune;
            }
            else
            {
                yield return null;
            }

            i += Math.Max(consumed, 1);
        }
    }
}
