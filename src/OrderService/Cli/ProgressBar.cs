using System.Diagnostics;

namespace Pipeline.OrderService.Cli;

/// <summary>A progress bar on a terminal, a line every 10% otherwise (logs, CI).</summary>
internal sealed class ProgressBar(string label, int total)
{
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly bool terminal = !Console.IsOutputRedirected;
    private long lastDraw;
    private int lastTenth = -1;

    public void Report(int done)
    {
        if (terminal)
        {
            var now = clock.ElapsedMilliseconds;
            if (now - Interlocked.Read(ref lastDraw) < 200 && done < total)
            {
                return;
            }

            Interlocked.Exchange(ref lastDraw, now);
            var width = 30;
            var filled = (int)((long)done * width / total);
            Console.Write($"\r{label} [{new string('#', filled)}{new string('.', width - filled)}] {done}/{total} {done / Math.Max(clock.Elapsed.TotalSeconds, 0.001):0}/s   ");
            return;
        }

        var tenth = (int)((long)done * 10 / total);
        if (tenth > Volatile.Read(ref lastTenth) && Interlocked.Exchange(ref lastTenth, tenth) < tenth)
        {
            Console.WriteLine($"{label}: {done}/{total} ({tenth * 10}%)");
        }
    }

    public void Done()
    {
        if (terminal)
        {
            Console.WriteLine();
        }
    }
}
