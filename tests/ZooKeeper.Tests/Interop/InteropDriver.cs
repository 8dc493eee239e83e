using Pipeline.Testing;

namespace Pipeline.ZooKeeper.Tests.Interop;

/// <summary>The java launcher and a classpath with the official ZooKeeper client and the compiled ZkInterop driver.</summary>
internal sealed record JavaRuntime(string Java, string Classpath);

/// <summary>
/// The interop driver on the official Java client: <see cref="Pipeline.Testing.JavaToolchain"/> finds java and the client the
/// way Debian's zkCli.sh does and compiles <c>Interop/java/ZkInterop.java</c> once (cached by a hash of source, classpath and
/// launcher, so runs share it and parallel classes do not race).
/// </summary>
internal static class InteropDriver
{
    /// <summary>The driver's class (and file) name.</summary>
    public const string MainClass = "ZkInterop";

    private static readonly Lazy<Task<JavaRuntime>> Runtime = new(PrepareAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Compiled once per process; every caller awaits the same task.</summary>
    public static Task<JavaRuntime> GetAsync() => Runtime.Value;

    private static async Task<JavaRuntime> PrepareAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var toolchain = await Pipeline.Testing.JavaToolchain.FindAsync(timeout.Token);
        var classes = await toolchain.CompileAsync(FindSource(), timeout.Token);
        return new JavaRuntime(toolchain.Java, toolchain.Classpath + Path.PathSeparator + classes);
    }

    private static string FindSource()
    {
        var source = RepositoryRoot.PathOf($"tests/ZooKeeper.Tests/Interop/java/{MainClass}.java");
        return File.Exists(source) ? source : throw new FileNotFoundException($"The Java interop driver is missing at {source}.", source);
    }
}
