using System.Globalization;

namespace Pipeline.Bench.Commit;

/// <summary>How busy the whole machine was over an interval (/proc/stat), in percent of all cores: on the 2-core machine
/// the database, the client under test and anything else running share the CPU.</summary>
internal readonly record struct MachineCpu(long Busy, long Total)
{
    public static MachineCpu Read()
    {
        try
        {
            var line = File.ReadLines("/proc/stat").First();
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
                .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            var total = fields.Sum();
            // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
            return new MachineCpu(total - fields[3] - fields[4], total);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException or IndexOutOfRangeException)
        {
            return default;
        }
    }

    /// <summary>Percent busy between <paramref name="start"/> and now; null when /proc/stat is unreadable.</summary>
    public static double? BusyPercentSince(MachineCpu start)
    {
        var now = Read();
        var total = now.Total - start.Total;
        return total > 0 ? Math.Round(100.0 * (now.Busy - start.Busy) / total, 1) : null;
    }
}
