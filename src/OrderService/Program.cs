using System.Reflection;
using Pipeline.OrderService.Cli;

namespace Pipeline.OrderService;

/// <summary>One executable, one verb per job: run, migrate, seed, publish, status, verify, watch.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var version = typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        var verbs = Verbs.All;
        if (args is [] or ["--help"] or ["-h"] or ["help"])
        {
            Console.WriteLine($"Pipeline.OrderService {version}\n\nusage: Pipeline.OrderService <verb> [options]   (Pipeline.OrderService <verb> --help)\n");
            foreach (var verb in verbs)
            {
                Console.WriteLine($"  {verb.Name,-12} {verb.Summary}");
            }

            Console.WriteLine("\nSettings come from appsettings.json, the environment (ZooKeeper__ConnectString=..., ConnectionStrings__Inventory=...,");
            Console.WriteLine("Pipeline__NodeId=...), the PIPELINE_ZOOKEEPER/RABBITMQ/POSTGRES variables and --Section:Key=value arguments.");
            return args.Length == 0 ? 2 : 0;
        }

        if (args is ["--version"])
        {
            Console.WriteLine(version);
            return 0;
        }

        var chosen = verbs.FirstOrDefault(v => v.Name == args[0]);
        if (chosen is null)
        {
            await Console.Error.WriteLineAsync($"unknown verb '{args[0]}'; see --help");
            return 2;
        }

        var options = CommandLine.Parse(args[1..]);
        if (options.Has("help") || options.Has("h"))
        {
            Console.WriteLine($"usage: Pipeline.OrderService {chosen.Name} {chosen.Usage}\n\n{chosen.Summary}");
            return 0;
        }

        try
        {
            return await chosen.RunAsync(options, args[1..]);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or FormatException or Microsoft.Extensions.Options.OptionsValidationException
                                       or Pipeline.ZooKeeper.Protocol.KeeperException or Npgsql.NpgsqlException or TimeoutException)
        {
            await Console.Error.WriteLineAsync($"{chosen.Name}: {ex.Message}");
            return 1;
        }
    }
}
