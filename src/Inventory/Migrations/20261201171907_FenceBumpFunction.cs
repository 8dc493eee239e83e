using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Pipeline.Inventory.Migrations
{
    /// <summary>The fence bump as a function owned by the schema's owner: the service role may run it (and so only ever
    /// raise the fence), and is given no UPDATE on leader_fence at all.</summary>
    public partial class FenceBumpFunction : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE OR REPLACE FUNCTION fence_bump(p_generation bigint, p_epoch bigint, p_holder text, p_resource text)
                RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
                BEGIN
                    UPDATE leader_fence SET generation = p_generation, epoch = p_epoch, holder = p_holder, updated_at = now()
                    WHERE resource = p_resource AND (generation, epoch) <= (p_generation, p_epoch);
                    RETURN FOUND;
                END $$;
                REVOKE ALL ON FUNCTION fence_bump(bigint, bigint, text, text) FROM PUBLIC;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP FUNCTION IF EXISTS fence_bump(bigint, bigint, text, text);");
        }
    }
}
