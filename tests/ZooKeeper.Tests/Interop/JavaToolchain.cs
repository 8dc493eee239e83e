using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Pipeline.ZooKeeper.Tests.Interop;

/// <summary>The java launcher and a classpath with the official ZooKeeper client and the compiled ZkInterop driver.</summary>
internal sealed record JavaRuntime(string Java, string Classpath);

/// <summary>
/// Finds the official Java client the way the Debian <c>zookeeper</c> package's own zkCli.sh does (it sources
/// <c>/usr/share/zookeeper/bin/zkEnv.sh</c> and runs <c>$JAVA -cp "$CLASSPATH"</c>; zookeeper.jar's manifest Class-Path
/// names its dependencies in /usr/share/java), then compiles <c>Interop/java/ZkInterop.java</c> once per test run into
/// a temp folder keyed by the hash of source, classpath and launcher, so runs share it and parallel classes do not race.
/// </summary>
internal static class JavaToolchain
{
    /// <summary>Overrides the classpath of the Java client (for a machine without the Debian package).</summary>
    public const string ClasspathVariable = "PIPELINE_ZOOKEEPER_JAVA_CLASSPATH";

    /// <summary>The driver's class (and file) name.</summary>
    public const string MainClass = "ZkInterop";

    private const string ZkEnv = "/usr/share/zookeeper/bin/zkEnv.sh";
    private const string DebianJar = "/usr/share/java/zookeeper.jar";
    private static readonly string[] CompileOptions = ["-nowarn", "-implicit:none", "-proc:none", "-encoding", "UTF-8"];
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(120);
    private static readonly Lazy<Task<JavaRuntime>> Runtime = new(PrepareAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Compiled once per process; every caller awaits the same task.</summary>
    public static Task<JavaRuntime> GetAsync() => Runtime.Value;

    private static async Task<JavaRuntime> PrepareAsync()
    {
        var (java, classpath) = await FindClientAsync().ConfigureAwait(false);
        var sourcePath = FindSource();
        var source = await File.ReadAllBytesAsync(sourcePath).ConfigureAwait(false);
        var key = Convert.ToHexString(SHA256.HashData([.. source, .. Encoding.UTF8.GetBytes($"\n{classpath}\n{java}\n{string.Join(' ', CompileOptions)}")]))[..16];
        var classes = Path.Combine(Path.GetTempPath(), "pipeline-zk-interop", key);
        if (!File.Exists(Path.Combine(classes, MainClass + ".class")))
        {
            await CompileAsync(java, classpath, sourcePath, classes).ConfigureAwait(false);
        }

        return new JavaRuntime(java, classpath + Path.PathSeparator + classes);
    }

    private static async Task<(string Java, string Classpath)> FindClientAsync()
    {
        string? java = null;
        var classpath = Environment.GetEnvironmentVariable(ClasspathVariable);
        if (string.IsNullOrWhiteSpace(classpath) && File.Exists(ZkEnv))
        {
            var env = await RunAsync("bash", ["-c", ". \"$1\" >/dev/null 2>&1; printf '%s\\n%s\\n' \"$CLASSPATH\" \"$JAVA\"", "zkenv", ZkEnv]).ConfigureAwait(false);
            var lines = env.Stdout.Split('\n');
            classpath = lines[0].Trim();
            java = lines.Length > 1 && File.Exists(lines[1].Trim()) ? lines[1].Trim() : null;
        }

        if (string.IsNullOrWhiteSpace(classpath) && File.Exists(DebianJar))
        {
            classpath = DebianJar;
        }

        var entries = (classpath ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        if (!entries.Any(e => Path.GetFileName(e).StartsWith("zookeeper", StringComparison.Ordinal) && File.Exists(e)))
        {
            throw new InvalidOperationException(
                $"The official Java ZooKeeper client was not found: no zookeeper*.jar in the classpath '{classpath}' (from ${ClasspathVariable}, " +
                $"else the CLASSPATH of {ZkEnv}, else {DebianJar}). Install it with `apt-get install zookeeper` (scripts/services up does).");
        }

        java ??= FindOnPath(Environment.GetEnvironmentVariable("JAVA_HOME") is { Length: > 0 } home ? Path.Combine(home, "bin", "java") : "java")
            ?? throw new InvalidOperationException("No java launcher: neither $JAVA of zkEnv.sh, $JAVA_HOME/bin/java nor java on PATH. `apt-get install default-jre-headless`.");
        return (java, classpath!);
    }

    private static async Task CompileAsync(string java, string classpath, string source, string classes)
    {
        var staging = classes + ".tmp-" + Guid.NewGuid().ToString("N");
        Directory.CreateDirectory(staging);
        try
        {
            // javac beside the launcher (a JDK), else the compiler module that Debian's JRE image carries too.
            var real = File.ResolveLinkTarget(java, returnFinalTarget: true)?.FullName ?? java;
            var javac = Path.Combine(Path.GetDirectoryName(real) ?? "", "javac");
            string[] options = [.. CompileOptions, "-cp", classpath, "-d", staging, source];
            var result = File.Exists(javac)
                ? await RunAsync(javac, options).ConfigureAwait(false)
                : await RunAsync(java, ["-m", "jdk.compiler/com.sun.tools.javac.Main", .. options]).ConfigureAwait(false);
            if (result.ExitCode != 0 || !File.Exists(Path.Combine(staging, MainClass + ".class")))
            {
                throw new InvalidOperationException($"Compiling {source} failed (exit {result.ExitCode}):\n{result.Stderr}{result.Stdout}");
            }

            try
            {
                Directory.Move(staging, classes); // atomic: another test run sees all of it or nothing
            }
            catch (IOException) when (File.Exists(Path.Combine(classes, MainClass + ".class")))
            {
                // Another process won the race with the same source: use theirs.
            }
        }
        finally
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }
        }
    }

    private static string FindSource()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Pipeline.sln")))
            {
                var source = Path.Combine(dir.FullName, "tests", "ZooKeeper.Tests", "Interop", "java", MainClass + ".java");
                return File.Exists(source) ? source : throw new FileNotFoundException($"The Java interop driver is missing at {source}.", source);
            }
        }

        throw new InvalidOperationException($"No Pipeline.sln above {AppContext.BaseDirectory}: cannot locate Interop/java/{MainClass}.java.");
    }

    private static string? FindOnPath(string program)
    {
        if (Path.IsPathRooted(program))
        {
            return File.Exists(program) ? program : null;
        }

        return (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string program, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {program}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(ToolTimeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', info.ArgumentList)} did not finish within {ToolTimeout.TotalSeconds:0} s.");
        }

        return (process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }
}
