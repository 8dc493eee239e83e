using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Pipeline.Testing;

/// <summary>
/// Finds Java and the official ZooKeeper client as Debian's zookeeper package installs them, and compiles a Java driver
/// (the interop tests' ZkInterop, the zk benchmark's ZkBench) once into a cache folder shared by runs. The classpath is the package's own: the CLASSPATH that
/// /usr/share/zookeeper/bin/zkEnv.sh sets (zkCli.sh uses it: /etc/zookeeper/conf and /usr/share/java/zookeeper.jar, whose
/// manifest Class-Path brings jute, netty, slf4j-api and the rest), plus slf4j-nop.jar (same package set: libslf4j-java)
/// so the client's logging stays quiet. $PIPELINE_ZK_CLASSPATH replaces all of it.
/// </summary>
public sealed class JavaToolchain
{
    private const string ZkEnv = "/usr/share/zookeeper/bin/zkEnv.sh";
    private const string ZooKeeperJar = "/usr/share/java/zookeeper.jar";
    private const string Slf4jNop = "/usr/share/java/slf4j-nop.jar";

    private JavaToolchain(string java, string classpath, string classpathSource)
    {
        Java = java;
        Classpath = classpath;
        ClasspathSource = classpathSource;
    }

    /// <summary>The java launcher.</summary>
    public string Java { get; }

    /// <summary>The ZooKeeper client's classpath (without the compiled bench classes).</summary>
    public string Classpath { get; }

    /// <summary>Where <see cref="Classpath"/> came from, for the report.</summary>
    public string ClasspathSource { get; }

    public static async Task<JavaToolchain> FindAsync(CancellationToken cancellationToken)
    {
        var java = FindTool("java") ?? throw new InvalidOperationException("java not found (PATH, JAVA_HOME): apt-get install zookeeper brings default-jre");
        string classpath;
        string source;
        if (Environment.GetEnvironmentVariable("PIPELINE_ZK_CLASSPATH") is { Length: > 0 } given)
        {
            (classpath, source) = (given, "$PIPELINE_ZK_CLASSPATH");
        }
        else
        {
            var fromPackage = File.Exists(ZkEnv) ? await ClasspathFromZkEnvAsync(cancellationToken) : null;
            (classpath, source) = fromPackage is { Length: > 0 } ? (fromPackage, ZkEnv) : (ZooKeeperJar, ZooKeeperJar + " (no zkEnv.sh)");
            if (File.Exists(Slf4jNop) && !classpath.Contains("slf4j-", StringComparison.Ordinal))
            {
                classpath += ":" + Slf4jNop;
                source += " + " + Slf4jNop;
            }
        }

        var entries = classpath.Split(':', StringSplitOptions.RemoveEmptyEntries);
        if (!entries.Any(e => Path.GetFileName(e).StartsWith("zookeeper", StringComparison.Ordinal) && File.Exists(e)))
        {
            throw new InvalidOperationException($"no ZooKeeper client jar on the classpath '{classpath}' (from {source}): apt-get install zookeeper, or set PIPELINE_ZK_CLASSPATH");
        }

        return new JavaToolchain(java, classpath, source);
    }

    /// <summary>
    /// Compiles <paramref name="sourceFile"/> into a cache folder named by a hash of the source, the classpath and the java
    /// launcher, unless that folder already holds the classes; returns the folder. Uses javac where there is one, otherwise the
    /// compiler module of the JRE itself (Debian's default-jre has jdk.compiler; only a JDK has the javac command).
    /// </summary>
    public async Task<string> CompileAsync(string sourceFile, CancellationToken cancellationToken)
    {
        var text = await File.ReadAllTextAsync(sourceFile, cancellationToken);
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text + "\n" + Classpath + "\n" + Java)))[..16];
        var name = Path.GetFileNameWithoutExtension(sourceFile);
        var cache = Path.Combine(Path.GetTempPath(), "pipeline-bench", $"{name}-{hash}");
        if (File.Exists(Path.Combine(cache, name + ".class")))
        {
            return cache;
        }

        var building = cache + $".{Environment.ProcessId}.tmp";
        Directory.CreateDirectory(building);
        var javac = FindTool("javac");
        var args = new List<string>();
        if (javac is null)
        {
            args.AddRange(["-m", "jdk.compiler/com.sun.tools.javac.Main"]);
        }

        args.AddRange(["-encoding", "UTF-8", "-Xlint:all,-path", "-cp", Classpath, "-d", building, sourceFile]);
        var (exit, output) = await RunAsync(javac ?? Java, args, cancellationToken);
        if (exit != 0)
        {
            Directory.Delete(building, recursive: true);
            throw new InvalidOperationException($"compiling {sourceFile} failed ({javac ?? Java + " -m jdk.compiler"} exit {exit}):\n{output}");
        }

        try
        {
            Directory.Move(building, cache);
        }
        catch (IOException) when (File.Exists(Path.Combine(cache, name + ".class")))
        {
            Directory.Delete(building, recursive: true); // another run compiled the same source meanwhile
        }

        return cache;
    }

    /// <summary>Sources the package's zkEnv.sh in a bash of its own (as zkCli.sh does) and returns the CLASSPATH it sets.</summary>
    private static async Task<string?> ClasspathFromZkEnvAsync(CancellationToken cancellationToken)
    {
        var (exit, output) = await RunAsync("bash", ["-c", ". \"$1\" >/dev/null 2>&1; printf '%s' \"$CLASSPATH\"", "zkEnv", ZkEnv], cancellationToken);
        return exit == 0 ? output.Trim() : null;
    }

    private static string? FindTool(string name)
    {
        if (Environment.GetEnvironmentVariable("JAVA_HOME") is { Length: > 0 } home && File.Exists(Path.Combine(home, "bin", name)))
        {
            return Path.Combine(home, "bin", name);
        }

        return (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
    }

    private static async Task<(int Exit, string Output)> RunAsync(string file, IEnumerable<string> args, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return (process.ExitCode, await stdout + await stderr);
    }
}
