using System.Diagnostics;

namespace Pipeline.Testing;

/// <summary>Environment variables for a process a test starts.</summary>
public static class ProcessEnvironment
{
    /// <summary>Sets each of <paramref name="environment"/> on <paramref name="info"/>; a null value removes the variable.</summary>
    public static void Apply(ProcessStartInfo info, IEnumerable<KeyValuePair<string, string?>> environment)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(environment);
        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }
    }
}
