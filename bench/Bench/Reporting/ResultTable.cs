using System.Globalization;
using System.Text;

namespace Pipeline.Bench.Reporting;

/// <summary>A markdown table of a scenario's rows: name, ours, the reference (java for zk), unit, and how ours compares.</summary>
public static class ResultTable
{
    public static string Render(ScenarioResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var lines = new List<string[]> { new[] { "metric", "ours", result.Reference, "unit", $"ours vs {result.Reference}" } };
        foreach (var row in result.Rows)
        {
            lines.Add(
            [
                row.Name,
                Format(row.Ours),
                row.Java is { } java ? Format(java) : "-",
                row.Unit,
                row.Advantage is { } a ? string.Create(CultureInfo.InvariantCulture, $"{a:0.00}x {(a >= 1 ? "better" : "worse")}") : "-",
            ]);
        }

        return Render(lines);
    }

    /// <summary>Renders rows (the first is the header) as a markdown table; text left-aligned, numbers right-aligned.</summary>
    public static string Render(IReadOnlyList<string[]> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var columns = lines.Max(l => l.Length);
        var widths = new int[columns];
        var numeric = new bool[columns];
        for (var c = 0; c < columns; c++)
        {
            widths[c] = lines.Max(l => c < l.Length ? l[c].Length : 0);
            numeric[c] = lines.Skip(1).All(l => c < l.Length && IsNumber(l[c]));
        }

        var text = new StringBuilder();
        for (var i = 0; i < lines.Count; i++)
        {
            text.Append('|');
            for (var c = 0; c < columns; c++)
            {
                var cell = c < lines[i].Length ? lines[i][c] : "";
                text.Append(' ').Append(numeric[c] && i > 0 ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c])).Append(" |");
            }

            text.Append('\n');
            if (i == 0)
            {
                text.Append('|');
                for (var c = 0; c < columns; c++)
                {
                    text.Append(' ').Append(new string('-', Math.Max(3, widths[c] - 1))).Append(numeric[c] ? ':' : '-').Append(" |");
                }

                text.Append('\n');
            }
        }

        return text.ToString();
    }

    /// <summary>Large values without decimals and with thousands separators; small ones with one decimal.</summary>
    public static string Format(double value) =>
        Math.Abs(value) >= 1000 ? value.ToString("#,0", CultureInfo.InvariantCulture) : value.ToString("0.0", CultureInfo.InvariantCulture);

    private static bool IsNumber(string cell) => cell == "-" || double.TryParse(cell.Replace(",", "", StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out _);
}
