using System.Reflection;

namespace Pipeline.OrderService;

/// <summary>The OrderService executable. Verbs arrive with the pipeline; until then it only answers --help and --version.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var version = typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        switch (args)
        {
            case ["--version"]:
                Console.WriteLine(version);
                return 0;
            case [] or ["--help"] or ["-h"]:
                Console.WriteLine($"Pipeline.OrderService {version}");
                Console.WriteLine("usage: Pipeline.OrderService --help | --version");
                return args.Length == 0 ? 2 : 0;
            default:
                Console.Error.WriteLine($"unknown verb '{args[0]}'; see --help");
                return 2;
        }
    }
}
