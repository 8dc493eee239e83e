using ScottPlot;

namespace Pipeline.Bench.Reporting;

/// <summary>A moment to mark on a throughput chart: a vertical line at <see cref="At"/>, coloured by <see cref="Kind"/>
/// (one legend entry per kind).</summary>
public sealed record ChartMark(DateTimeOffset At, string Kind);

/// <summary>One panel: events (e.g. ledger commit times) counted per bucket from <see cref="Origin"/>, and its marks.</summary>
public sealed record ChartPanel(string Title, DateTimeOffset Origin, IReadOnlyList<DateTimeOffset> Events, IReadOnlyList<ChartMark> Marks);

/// <summary>
/// Throughput over time as a PNG (ScottPlot): for each panel, events per second in fixed buckets, x in seconds since the
/// panel's origin, with vertical lines at the marks. Panels are stacked top to bottom and share the x range, so runs of
/// different lengths compare by eye. Any scenario that has timestamps of what it completed can use it.
/// </summary>
public static class Chart
{
    private static readonly Color[] MarkColors = [Colors.Green, Colors.Red, Colors.DarkOrange, Colors.Purple, Colors.Brown, Colors.Gray];

    /// <summary>Writes <paramref name="path"/>: one row per panel, <paramref name="bucket"/> wide buckets.</summary>
    public static void SaveThroughput(string path, string unit, TimeSpan bucket, IReadOnlyList<ChartPanel> panels, int width = 1400, int panelHeight = 420)
    {
        ArgumentNullException.ThrowIfNull(panels);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(bucket, TimeSpan.Zero);
        var kinds = panels.SelectMany(p => p.Marks).Select(m => m.Kind).Distinct(StringComparer.Ordinal).ToList();
        var end = panels.Max(p => Math.Max(p.Events.Count == 0 ? 0 : (p.Events.Max() - p.Origin).TotalSeconds, p.Marks.Count == 0 ? 0 : (p.Marks.Max(m => m.At) - p.Origin).TotalSeconds));
        var multiplot = new Multiplot();
        foreach (var panel in panels)
        {
            var plot = new Plot();
            var (xs, ys) = PerSecond(panel.Events, panel.Origin, bucket);
            var line = plot.Add.ScatterLine(xs, ys);
            line.Color = Colors.SteelBlue;
            line.LineWidth = 1.5f;
            foreach (var mark in panel.Marks)
            {
                var vertical = plot.Add.VerticalLine((mark.At - panel.Origin).TotalSeconds);
                vertical.Color = MarkColors[kinds.IndexOf(mark.Kind) % MarkColors.Length].WithAlpha(0.8);
                vertical.LineWidth = 1;
                vertical.LinePattern = LinePattern.Dashed;
            }

            // One legend entry per kind of mark, not one per line.
            foreach (var kind in kinds.Where(k => panel.Marks.Any(m => m.Kind == k)))
            {
                plot.Legend.ManualItems.Add(new LegendItem { LabelText = kind, LineColor = MarkColors[kinds.IndexOf(kind) % MarkColors.Length], LineWidth = 2, LinePattern = LinePattern.Dashed });
            }

            plot.Legend.ManualItems.Insert(0, new LegendItem { LabelText = $"{unit} ({bucket.TotalMilliseconds:0} ms buckets)", LineColor = line.Color, LineWidth = 2 });
            plot.ShowLegend(Alignment.UpperRight);
            plot.Title(panel.Title);
            plot.XLabel("seconds since the run started");
            plot.YLabel(unit);
            plot.Axes.SetLimitsX(0, Math.Max(1, end));
            plot.Axes.SetLimitsY(0, Math.Max(1, ys.DefaultIfEmpty(0).Max() * 1.15));
            if (ReferenceEquals(panel, panels[0]))
            {
                multiplot.Reset(plot); // a new Multiplot holds one empty plot: the first panel replaces it
            }
            else
            {
                multiplot.AddPlot(plot);
            }
        }

        multiplot.SavePng(path, width, panelHeight * panels.Count);
    }

    /// <summary>Events per second in each bucket from <paramref name="origin"/> to the last event (empty buckets count 0).</summary>
    public static (double[] Seconds, double[] PerSecond) PerSecond(IReadOnlyList<DateTimeOffset> events, DateTimeOffset origin, TimeSpan bucket)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return ([], []);
        }

        var count = (int)((events.Max() - origin) / bucket) + 1;
        var counts = new double[Math.Max(count, 1)];
        foreach (var at in events.Where(e => e >= origin))
        {
            counts[(int)((at - origin) / bucket)]++;
        }

        var seconds = bucket.TotalSeconds;
        return ([.. Enumerable.Range(0, counts.Length).Select(i => (i + 0.5) * seconds)], [.. counts.Select(c => c / seconds)]);
    }
}
