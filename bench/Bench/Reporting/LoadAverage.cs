namespace Pipeline.Bench.Reporting;

/// <summary>The 1-minute load average (/proc/loadavg), to flag runs on a machine busy with other work.</summary>
public static class LoadAverage
{
    public static double? Read()
    {
        try
        {
            var text = File.ReadAllText("/proc/loadavg");
            return double.Parse(text.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>More runnable work than cores, besides ourselves.</summary>
    public static bool Busy(double? load) => load > Environment.ProcessorCount;
}
