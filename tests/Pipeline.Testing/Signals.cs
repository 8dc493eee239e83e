using System.Runtime.InteropServices;

namespace Pipeline.Testing;

/// <summary>POSIX signals for fault tests: pause (SIGSTOP), resume (SIGCONT), terminate (SIGTERM), kill (SIGKILL), and the
/// interrupt (SIGINT) and quit (SIGQUIT) that PostgreSQL reads as fast and immediate shutdown.</summary>
public static partial class Signals
{
    public const int Interrupt = 2;
    public const int Quit = 3;
    public const int Kill = 9;
    public const int Terminate = 15;
    public const int Continue = 18;
    public const int Stop = 19;

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; throws when the process does not exist.</summary>
    public static void Send(int pid, int signal)
    {
        if (SysKill(pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; false when the process does not exist (it may have just exited).</summary>
    public static bool TrySend(int pid, int signal) => SysKill(pid, signal) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);
}
