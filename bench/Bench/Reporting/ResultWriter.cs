using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Bench.Reporting;

/// <summary>Writes bench/results/SCENARIO.json: the result, the machine it ran on, and when.</summary>
public static class ResultWriter
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Writes the file (atomically: a temp file renamed over it) and returns its path.</summary>
    public static async Task<string> WriteAsync(ScenarioResult result, BenchContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(context);
        Directory.CreateDirectory(context.ResultsDirectory);
        var document = new Dictionary<string, object?>
        {
            ["scenario"] = result.Scenario,
            ["ratio"] = Math.Round(result.Ratio, 4),
            ["goal"] = result.Goal,
            ["quick"] = context.Quick,
            ["rounds"] = context.Rounds,
            ["timestamp"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
            ["machine"] = Machine(),
            ["rows"] = result.Rows.Select(r => new Dictionary<string, object?>
            {
                ["name"] = r.Name,
                ["ours"] = Math.Round(r.Ours, 1),
                [result.Reference] = r.Java is { } j ? Math.Round(j, 1) : null,
                ["unit"] = r.Unit,
                ["ratio"] = r.Advantage is { } a ? Math.Round(a, 4) : null,
                ["higherIsBetter"] = r.HigherIsBetter,
            }).ToList(),
            ["notes"] = result.Notes,
            ["details"] = result.Details,
        };

        var file = Path.Combine(context.ResultsDirectory, result.Scenario + ".json");
        var temp = file + ".tmp";
        await using (var stream = File.Create(temp))
        {
            await JsonSerializer.SerializeAsync(stream, document, Json, cancellationToken);
        }

        File.Move(temp, file, overwrite: true);
        return file;
    }

    /// <summary>Cores, OS, CPU model and runtime: what a number needs beside it to be compared later.</summary>
    public static Dictionary<string, object?> Machine() => new()
    {
        ["cores"] = Environment.ProcessorCount,
        ["os"] = OsName(),
        ["kernel"] = File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : RuntimeInformation.OSDescription,
        ["arch"] = RuntimeInformation.OSArchitecture.ToString(),
        ["cpu"] = CpuModel(),
        ["memoryGiB"] = Math.Round(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024), 1),
        ["dotnet"] = RuntimeInformation.FrameworkDescription,
        ["loadAverage"] = LoadAverage.Read(),
        ["hostname"] = Environment.MachineName,
    };

    private static string OsName()
    {
        const string osRelease = "/etc/os-release";
        if (File.Exists(osRelease))
        {
            foreach (var line in File.ReadLines(osRelease))
            {
                if (line.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))
                {
                    return line["PRETTY_NAME=".Length..].Trim('"');
                }
            }
        }

        return RuntimeInformation.OSDescription;
    }

    private static string? CpuModel()
    {
        const string cpuinfo = "/proc/cpuinfo";
        if (!File.Exists(cpuinfo))
        {
            return null;
        }

        var model = File.ReadLines(cpuinfo).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return model?[(model.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
    }
}
