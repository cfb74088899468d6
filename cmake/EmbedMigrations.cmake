# Writes OUTPUT, a C++ source defining mandant::controller::store::BuiltinMigrations()
# from every NNNN_*.sql file in DIR. Run with cmake -P at build time.
file(GLOB files "${DIR}/*.sql")
list(SORT files)
set(body "")
foreach(f ${files})
  get_filename_component(name ${f} NAME)
  string(SUBSTRING ${name} 0 4 version)
  string(REGEX REPLACE "^0+" "" version "${version}")
  file(READ ${f} sql)
  string(APPEND body "      {${version}, \"${name}\", R\"mandant_sql(${sql})mandant_sql\"},\n")
endforeach()
file(WRITE ${OUTPUT}.tmp
"// Generated from migrations/*.sql by cmake/EmbedMigrations.cmake.\n"
"#include \"controller/store/migrator.h\"\n\n"
"namespace mandant::controller::store {\n\n"
"const std::vector<Migration>& BuiltinMigrations() {\n"
"  static const auto* kMigrations = new std::vector<Migration>{\n${body}  };\n"
"  return *kMigrations;\n}\n\n"
"}  // namespace mandant::controller::store\n")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
