using System.Diagnostics;
using System.Globalization;

namespace Pipeline.Testing;

/// <summary>
/// Names of per-test resources (databases, virtual hosts, chroots): <c>pt_{pid}_{random}</c>. The process id in the
/// name lets a later run remove what a crashed run left behind: a resource whose process is gone is an orphan.
/// </summary>
public static class TestResourceNames
{
    public const string Prefix = "pt_";

    public static string New() =>
        string.Create(CultureInfo.InvariantCulture, $"{Prefix}{Environment.ProcessId}_{Guid.NewGuid().ToString("N")[..12]}");

    /// <summary>True when <paramref name="name"/> is a test resource whose creating process no longer runs on this machine.</summary>
    public static bool IsOrphan(string name)
    {
        if (!name.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = name[Prefix.Length..];
        var underscore = rest.IndexOf('_', StringComparison.Ordinal);
        if (underscore <= 0 || !int.TryParse(rest[..underscore], NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            return false;
        }

        if (pid == Environment.ProcessId)
        {
            return false;
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (ArgumentException)
        {
            return true;
        }
    }
}
