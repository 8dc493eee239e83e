using System.Runtime.InteropServices;

namespace Pipeline.OrderService.Cli;

/// <summary>Ctrl+C (SIGINT) and SIGTERM as a cancellation token for the verbs that end by themselves: the first signal asks
/// the verb to stop cleanly (publish still writes its ids file and summary), a second one ends the process at once, as the
/// runtime would have without this handler. <c>run</c> does not use it: the ASP.NET Core host handles its own signals.</summary>
internal sealed class Interruption : IDisposable
{
    /// <summary>The exit code of a verb stopped by a signal: 128 + SIGINT, as shells report it.</summary>
    public const int ExitCode = 130;

    private readonly CancellationTokenSource cancellation = new();
    private readonly PosixSignalRegistration interrupt;
    private readonly PosixSignalRegistration terminate;
    private int signals;

    public Interruption()
    {
        interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    /// <summary>Cancelled by the first SIGINT or SIGTERM.</summary>
    public CancellationToken Token => cancellation.Token;

    public void Dispose()
    {
        interrupt.Dispose();
        terminate.Dispose();
        cancellation.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        if (Interlocked.Increment(ref signals) == 1)
        {
            context.Cancel = true;
            cancellation.Cancel();
        }
    }
}
