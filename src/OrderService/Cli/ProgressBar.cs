using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Pipeline.OrderService.Cli;

/// <summary>Progress on stderr, so stdout stays clean for data: an animated Spectre.Console bar on a terminal; when stderr
/// is redirected (a log, CI) no animation, a line at every tenth and a final one.</summary>
internal sealed class ProgressBar : IAsyncDisposable
{
    private static readonly TimeSpan RefreshInterval = TimeSpan.FromMilliseconds(100);
    private readonly string label;
    private readonly long total;
    private readonly TaskCompletionSource finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task rendering;
    private long done;

    private ProgressBar(string label, long total)
    {
        this.label = label;
        this.total = total;
        rendering = CliConsole.ErrorIsTerminal ? AnimateAsync() : LogAsync();
    }

    /// <summary>How many are done so far.</summary>
    public long Done => Interlocked.Read(ref done);

    public static ProgressBar Start(string label, long total) => new(label, total);

    public void Advance(long count = 1) => Interlocked.Add(ref done, count);

    /// <summary>Draws the last state and ends the display.</summary>
    public async ValueTask DisposeAsync()
    {
        finished.TrySetResult();
        await rendering;
    }

    private Task AnimateAsync() =>
        CliConsole.Error.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new CountColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(label, maxValue: total);
                while (!finished.Task.IsCompleted)
                {
                    task.Value = Done;
                    await Task.WhenAny(finished.Task, Task.Delay(RefreshInterval));
                }

                task.Value = Done;
                task.StopTask();
            });

    private async Task LogAsync()
    {
        var lastTenth = 0L;
        while (!finished.Task.IsCompleted)
        {
            await Task.WhenAny(finished.Task, Task.Delay(RefreshInterval));
            var tenth = Done * 10 / total;
            if (tenth > lastTenth && tenth < 10)
            {
                lastTenth = tenth;
                await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{label}: {Done}/{total} ({tenth * 10}%)"));
            }
        }

        await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{label}: {Done}/{total} ({Done * 100 / total}%)"));
    }

    /// <summary>"done/total, rate/s".</summary>
    private sealed class CountColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(string.Create(CultureInfo.InvariantCulture, $"{task.Value:0}/{task.MaxValue:0} {task.Speed ?? 0:0}/s"));
    }
}
