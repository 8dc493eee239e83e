using System.Globalization;

namespace Pipeline.Testing;

/// <summary>
/// Reads Linux's /proc to follow processes a test did not start itself (a postmaster's backends). A zombie counts as gone:
/// it holds no socket, port or shared memory, and a container's init may never reap the orphans of a killed postmaster.
/// </summary>
public static class ProcessTable
{
    /// <summary>True while <paramref name="pid"/> exists and is not a zombie.</summary>
    public static bool IsAlive(int pid) => TryReadStat(pid) is { } stat && stat.State is not ('Z' or 'X');

    /// <summary>True once every thread of <paramref name="pid"/> is stopped (state T): kill(SIGSTOP) returns before the threads
    /// have stopped, and a thread still running may answer a request sent right after it.</summary>
    public static bool IsStopped(int pid)
    {
        string[] threads;
        try
        {
            threads = Directory.GetDirectories(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/task"));
        }
        catch (IOException)
        {
            return false;
        }

        return threads.Length > 0 && threads.All(thread =>
            int.TryParse(Path.GetFileName(thread), NumberStyles.None, CultureInfo.InvariantCulture, out var tid) &&
            (TryReadStat(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/task/{tid}/stat")) is not { } stat || stat.State is 'T' or 't'));
    }

    /// <summary>The live direct children of <paramref name="pid"/>.</summary>
    public static IReadOnlyList<int> ChildrenOf(int pid)
    {
        var children = new List<int>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var candidate) &&
                TryReadStat(candidate) is { } stat && stat.ParentId == pid && stat.State is not ('Z' or 'X'))
            {
                children.Add(candidate);
            }
        }

        return children;
    }

    private static (char State, int ParentId)? TryReadStat(int pid) => TryReadStat(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/stat"));

    private static (char State, int ParentId)? TryReadStat(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null;
        }

        // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so the fields start after the last ')'.
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        return (fields[0][0], int.Parse(fields[1], CultureInfo.InvariantCulture));
    }
}
